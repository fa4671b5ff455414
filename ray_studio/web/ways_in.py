"""The API and MCP ways in to a page's handlers: one clip, or a set of variants, with no components."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
from gradio.components.gallery import GalleryVideo
from gradio.data_classes import FileData

from ray_studio.client.errors import RayError
from ray_studio.client.request import DEFAULT_ASPECT_RATIO, DEFAULT_DURATION, VideoRequest
from ray_studio.client.wording import format_usd
from ray_studio.web.gradio_tweaks import serve_as_is
from ray_studio.web.share_page import request_root
from ray_studio.web.words import captions


class WaysIn:
    """Page's /generate and /variants (Page gives ``visitor``, ``turn``, ``error``, ``_outcome``, ``studio``,
    ``links``)."""

    studio: Any
    links: Any

    async def generate(
        self,
        prompt: str,
        aspect_ratio: str = DEFAULT_ASPECT_RATIO,
        duration: int = DEFAULT_DURATION,
        loop: bool = False,
        start_image_url: str = "",
        end_image_url: str = "",
        api_key: str = "",
        request: gr.Request = None,  # type: ignore[assignment]
        profile: gr.OAuthProfile | None = None,
    ) -> tuple[FileData, str]:
        """Make a 720p video clip with Luma Ray Flash 2 on Segmind.

        Args:
            prompt: What the video should show (up to 2000 characters).
            aspect_ratio: One of 1:1, 3:4, 4:3, 9:16, 16:9, 9:21, 21:9.
            duration: Length in seconds: 5 or 9.
            loop: Make the last frame match the first, for seamless looping.
            start_image_url: http(s) URL of an image to use as the first frame; empty for none.
            end_image_url: http(s) URL of an image to use as the last frame; empty for none.
            api_key: Your own Segmind API key; empty to use the server's key (within its limits).

        Returns:
            The MP4 video, and a one-line summary: parameters, time taken, size, cost.
        """
        visitor = self.visitor(request, profile)
        try:
            with self.turn(visitor):
                video_request = VideoRequest(prompt, aspect_ratio, duration, loop, start_image_url, end_image_url)
                tracked, own_key = await self.studio.start(video_request, api_key, visitor)
                result = await self._outcome(tracked)
        except RayError as err:
            raise self.error(err, api_key) from None
        summary = self.studio.result_summary(result, own_key)
        if self.links is not None:  # a link to the clip, so API callers can share it too
            summary += self.links.api_line(result, request_root(request))
        return serve_as_is(result.path), summary

    async def variants(
        self,
        prompts: str,
        aspect_ratios: list[str] | None = None,
        duration: int = DEFAULT_DURATION,
        loop: bool = False,
        start_image_url: str = "",
        end_image_url: str = "",
        api_key: str = "",
        cameras: list[str] | None = None,
        request: gr.Request = None,  # type: ignore[assignment]
        profile: gr.OAuthProfile | None = None,
    ) -> tuple[list[GalleryVideo], str]:
        """Make several 720p clips at once: every prompt wording (one per line) in every aspect ratio, with
        every camera move asked for.

        Args:
            prompts: One prompt wording per line.
            aspect_ratios: Aspect ratios to try, each one of 1:1, 3:4, 4:3, 9:16, 16:9, 9:21, 21:9.
            duration: Length in seconds of every clip: 5 or 9.
            loop: Make every clip loop.
            start_image_url: http(s) URL of a first-frame image for every clip; empty for none.
            end_image_url: http(s) URL of a last-frame image for every clip; empty for none.
            api_key: Your own Segmind API key; empty to use the server's key (within its limits).
            cameras: Camera moves to compare (Luma's names, such as push_in, orbit_left, static), each added
                to every wording as words Ray follows; empty for the wordings as they are.

        Returns:
            The clips, each with a caption of what differs, and a summary of the set and its cost.
        """
        visitor = self.visitor(request, profile)
        try:
            with self.turn(visitor):
                requests = self.studio.variant_requests(
                    prompts, aspect_ratios or [DEFAULT_ASPECT_RATIO], duration, [loop], start_image_url, end_image_url,
                    cameras,
                )  # fmt: skip
                tracked, _ = await self.studio.start_many(requests, api_key, visitor)
                results = await asyncio.gather(*(self._outcome(t) for t in tracked), return_exceptions=True)
        except RayError as err:
            raise self.error(err, api_key) from None
        made = [
            GalleryVideo(video=serve_as_is(r.path), caption=c)
            for r, c in zip(results, captions(requests), strict=True)
            if not isinstance(r, BaseException)
        ]
        failed = [r for r in results if isinstance(r, RayError)]
        if not made and failed:
            raise self.error(failed[0], api_key)
        cost = sum(r.cost or 0 for r in results if not isinstance(r, BaseException))
        line = f"{len(made)} of {len(requests)} clips made · {format_usd(cost)}"
        return made, line + (f" · {len(failed)} failed: {failed[0].title}" if failed else "")
