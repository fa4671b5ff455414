"""The start-up baseline: a bare Gradio Blocks page with one button."""

import gradio as gr

with gr.Blocks() as demo:
    gr.Button("Go")

if __name__ == "__main__":
    demo.launch()
