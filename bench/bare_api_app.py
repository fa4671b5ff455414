"""The many-visitors baseline: a bare Gradio page whose async ``/generate`` only waits as long as a
generation (``BARE_SECONDS``), with Gradio's event slots (``max_threads``) at ``BARE_THREADS``."""

import asyncio
import os

import gradio as gr


async def generate(prompt, aspect_ratio, duration, loop, start_image_url, end_image_url, api_key):
    await asyncio.sleep(float(os.environ.get("BARE_SECONDS", "4")))
    return "clip.mp4", "summary"


with gr.Blocks() as demo:
    inputs = [gr.Textbox() for _ in range(7)]
    outputs = [gr.Textbox(), gr.Textbox()]
    gr.Button(visible=False).click(generate, inputs, outputs, api_name="generate", concurrency_limit=None)

if __name__ == "__main__":
    demo.queue(max_size=1000)
    demo.launch(max_threads=int(os.environ.get("BARE_THREADS", "40")))
