"""A keyframe's picture and URL on the page, kept saying the same thing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from ray_studio.client.errors import RayError

if TYPE_CHECKING:
    from ray_studio.web.frames import HostedFrame
    from ray_studio.web.layout import Keyframe, Keyframes
    from ray_studio.web.page import Page, Shown


class KeyframeField:
    """One keyframe's picture and URL, kept saying the same thing: the URL sent is the picture shown."""

    def __init__(self, page: Page, frame: Keyframe) -> None:
        self.page = page
        self.frame = frame

    async def keyframe(self, image: Any, api_key: str, request: gr.Request = None) -> Shown:  # type: ignore[assignment]
        """A picked, dropped, pasted or webcam image: checked, hosted at Segmind, its URL in the form."""
        frame = self.frame
        if not image:
            return {frame.url: "", frame.note: "", frame.uploaded: ""}
        path = image.get("path") if isinstance(image, dict) else None
        name = image.get("orig_name") if isinstance(image, dict) else None
        page = self.page
        try:
            url, notes = await page.studio.keyframe(path, name, api_key, page.visitor(request), page.uploads)
        except RayError as err:
            # Said once, under the picture the visitor just gave; the picture goes too, so what is
            # shown is what would be sent: nothing.
            return {frame.url: "", frame.note: page.failure_line(err, api_key), frame.image: None, frame.uploaded: ""}
        note = "✓ Ready" + (f" ({'; '.join(notes)})" if notes else "")
        return {frame.url: url, frame.note: note, frame.uploaded: url}

    def url_changed(self, url: str, uploaded: str) -> Shown:
        """A URL that is not the uploaded image's: the picture and its note no longer say what is sent."""
        if (url or "").strip() == (uploaded or "").strip():
            return gr.skip()
        return {self.frame.image: None, self.frame.note: ""}


def clip_frames_shown(frames: Keyframes, start: HostedFrame | None = None, end: HostedFrame | None = None) -> Shown:
    """A clip's frame put in a keyframe slot (Continue, Lead in, Bridge) shown there as its picture, with
    its note, like an image the visitor picked: the URL sent is the picture shown."""
    import io

    from PIL import Image  # Pillow, only once a frame is taken

    shown: Shown = {}
    for frame, hosted in ((frames.start, start), (frames.end, end)):
        if hosted is not None:
            shown[frame.image] = Image.open(io.BytesIO(hosted.frame.data))
            shown[frame.note] = f"✓ Ready: the {hosted.which} frame of that clip"
            shown[frame.uploaded] = hosted.url
    return shown
