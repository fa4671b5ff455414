"""media.py on real files made by Pillow and PyAV in each test's folder: keyframes in, frames and joined clips out."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
import pytest
from PIL import ExifTags, Image, ImageFile, features

from ray_studio.client import media
from ray_studio.client.errors import InvalidRequestError
from tests import media_samples as samples
from tests.conftest import ROOT
from tests.media_samples import BLUE, GREEN, RED, WHITE

SAMPLE_CLIP = ROOT / "tests" / "data" / "sample.mp4"  # 1 s, 320×180, 24 fps, H.264


def decoded(keyframe: media.Keyframe) -> Image.Image:
    image = Image.open(io.BytesIO(keyframe.data))
    image.load()
    return image


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def all_frames(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


# --------------------------------------------------------------------------- accepted images


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_png_jpeg_and_webp_are_accepted_and_keep_their_format(fmt, mime):
    keyframe = media.load_keyframe(samples.image_bytes(fmt, (640, 480), GREEN), "shot")
    assert (keyframe.mime, keyframe.width, keyframe.height) == (mime, 640, 480)
    assert decoded(keyframe).format == fmt
    assert near(decoded(keyframe).getpixel((320, 240)), GREEN)
    assert not any("converted" in note for note in keyframe.notes)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "GIF"])
def test_bmp_tiff_and_an_opaque_gif_are_converted_to_jpeg(fmt):
    keyframe = media.load_keyframe(samples.image_bytes(fmt, (300, 200), BLUE), f"drawing.{fmt.lower()}")
    assert keyframe.mime == "image/jpeg"
    assert f"converted from {fmt} to JPEG" in keyframe.notes
    assert near(decoded(keyframe).getpixel((150, 100)), BLUE)


def test_a_gif_with_transparency_is_converted_to_png_keeping_it():
    image = Image.new("P", (200, 200), 0)
    image.putpalette([*RED, *WHITE] + [0] * 762)
    image.paste(1, (100, 0, 200, 200))
    buffer = io.BytesIO()
    image.save(buffer, "GIF", transparency=1)
    keyframe = media.load_keyframe(buffer.getvalue(), "sticker.gif")
    assert keyframe.mime == "image/png"
    assert "converted from GIF to PNG" in keyframe.notes
    assert decoded(keyframe).getpixel((50, 100)) == (*RED, 255)
    assert decoded(keyframe).getpixel((150, 100))[3] == 0


def test_a_transparent_tiff_is_converted_to_png():
    image = Image.new("RGBA", (200, 200), (*GREEN, 128))
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    keyframe = media.load_keyframe(buffer.getvalue(), "layer.tiff")
    assert keyframe.mime == "image/png"
    assert decoded(keyframe).getpixel((100, 100))[3] == 128


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow cannot read AVIF")
def test_an_avif_is_converted_to_jpeg():
    keyframe = media.load_keyframe(samples.image_bytes("AVIF", (256, 256), GREEN), "web.avif")
    assert keyframe.mime == "image/jpeg"
    assert near(decoded(keyframe).getpixel((128, 128)), GREEN)


def test_an_animated_gif_gives_its_first_frame_with_a_note():
    frames = [Image.new("RGB", (200, 200), colour) for colour in (RED, GREEN, BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    keyframe = media.load_keyframe(buffer.getvalue(), "loop.gif")
    assert "first frame of an animated GIF" in keyframe.notes
    assert near(decoded(keyframe).getpixel((100, 100)), RED)


def test_an_unchanged_jpeg_is_re_encoded_with_its_own_quantisation_tables():
    original = samples.image_bytes("JPEG", (640, 480), GREEN, quality=70)
    keyframe = media.load_keyframe(original, "small.jpg")
    assert decoded(keyframe).quantization == Image.open(io.BytesIO(original)).quantization


def test_a_lossless_webp_stays_lossless():
    noise = Image.effect_noise((300, 200), 80).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, "WEBP", lossless=True)
    assert decoded(media.load_keyframe(buffer.getvalue(), "screen.webp")).tobytes() == noise.tobytes()


def test_a_cameras_multi_picture_jpeg_is_kept_as_a_jpeg():
    pictures = [Image.new("RGB", (400, 300), colour) for colour in (GREEN, RED)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "MPO", save_all=True, append_images=pictures[1:])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    keyframe = media.load_keyframe(buffer.getvalue(), "camera.jpg")
    assert keyframe.mime == "image/jpeg" and keyframe.notes == ()
    assert near(decoded(keyframe).getpixel((200, 150)), GREEN)


def test_a_file_is_judged_by_its_content_not_its_name(tmp_path):
    path = write(tmp_path, "actually-a-jpeg.png", samples.image_bytes("JPEG", (300, 300)))
    assert media.load_keyframe(path).mime == "image/jpeg"


def test_a_keyframe_becomes_a_data_url_of_its_bytes():
    keyframe = media.load_keyframe(samples.image_bytes("PNG", (200, 200)), "a.png")
    prefix = "data:image/png;base64,"
    assert keyframe.data_url().startswith(prefix)
    assert base64.b64decode(keyframe.data_url()[len(prefix) :]) == keyframe.data


def test_a_path_and_its_bytes_give_the_same_keyframe(tmp_path):
    data = samples.image_bytes("PNG", (300, 200), BLUE)
    from_path = media.load_keyframe(write(tmp_path, "b.png", data), "b.png")
    assert from_path == media.load_keyframe(data, "b.png")


# --------------------------------------------------------------------------- modes and metadata


def test_cmyk_becomes_rgb():
    keyframe = media.load_keyframe(samples.image_bytes("JPEG", (200, 200), RED, mode="CMYK"), "print.jpg")
    assert decoded(keyframe).mode == "RGB"
    assert near(decoded(keyframe).getpixel((100, 100)), RED, tolerance=60)


def test_a_16_bit_grey_png_is_brought_down_to_8_bits_not_clipped_to_white():
    buffer = io.BytesIO()
    Image.new("I;16", (200, 200), 32896).save(buffer, "PNG")  # half way up the 16-bit range
    image = decoded(media.load_keyframe(buffer.getvalue(), "scan.png"))
    assert image.mode == "RGB"
    assert near(image.getpixel((100, 100)), (128, 128, 128), tolerance=2)


def test_a_palette_png_becomes_rgb():
    keyframe = media.load_keyframe(samples.image_bytes("PNG", (200, 200), GREEN, mode="P"), "icon.png")
    assert decoded(keyframe).mode == "RGB"


def test_an_alpha_channel_with_nothing_transparent_is_dropped():
    keyframe = media.load_keyframe(samples.image_bytes("PNG", (200, 200), GREEN, mode="RGBA"), "opaque.png")
    assert decoded(keyframe).mode == "RGB"


def test_grey_with_alpha_becomes_rgba():
    image = Image.new("LA", (200, 200), (90, 100))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    assert decoded(media.load_keyframe(buffer.getvalue(), "shadow.png")).getpixel((5, 5)) == (90, 90, 90, 100)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_with_a_gps_position_is_removed(fmt):
    data = samples.image_bytes(fmt, (300, 200), exif=samples.exif_with_gps())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample has it
    keyframe = media.load_keyframe(data, "holiday")
    assert not decoded(keyframe).getexif()
    assert b"Exif" not in keyframe.data and b"TestCam" not in keyframe.data
    assert "removed the GPS location and other metadata" in keyframe.notes


def test_a_jpeg_comment_is_removed():
    data = samples.image_bytes("JPEG", (300, 200), comment=b"shot at 12 Rue Example")
    assert b"Rue Example" not in media.load_keyframe(data, "c.jpg").data


def test_exif_orientation_is_applied_so_the_image_is_upright():
    # Orientation 6: the stored picture is shown turned 90° clockwise, so its left side is the top.
    buffer = io.BytesIO()
    samples.halves((400, 200), left=RED, right=BLUE).save(buffer, "JPEG", exif=samples.exif_with_gps(orientation=6))
    keyframe = media.load_keyframe(buffer.getvalue(), "phone.jpg")
    image = decoded(keyframe)
    assert image.size == (200, 400)
    assert near(image.getpixel((100, 20)), RED) and near(image.getpixel((100, 380)), BLUE)
    assert "turned upright as its EXIF orientation says" in keyframe.notes


def test_a_large_turned_photo_is_scaled_and_named_by_its_upright_size():
    buffer = io.BytesIO()
    samples.halves((3000, 2000), left=RED, right=BLUE).save(buffer, "JPEG", exif=samples.exif_with_gps(orientation=6))
    keyframe = media.load_keyframe(buffer.getvalue(), "phone.jpg")
    assert (keyframe.width, keyframe.height) == (853, 1280)
    assert "scaled from 2000×3000 to 853×1280" in keyframe.notes
    assert near(decoded(keyframe).getpixel((426, 50)), RED)


# --------------------------------------------------------------------------- scaling


def test_a_6000_by_4000_jpeg_is_scaled_to_1280_on_the_long_side():
    keyframe = media.load_keyframe(samples.image_bytes("JPEG", (6000, 4000), GREEN), "camera.jpg")
    assert (keyframe.mime, keyframe.width, keyframe.height) == ("image/jpeg", 1280, 853)
    assert "scaled from 6000×4000 to 1280×853" in keyframe.notes
    assert near(decoded(keyframe).getpixel((640, 426)), GREEN)


def test_a_tall_png_is_scaled_to_1280_high():
    keyframe = media.load_keyframe(samples.image_bytes("PNG", (1500, 3000), BLUE), "tall.png")
    assert (keyframe.width, keyframe.height) == (640, 1280)


def test_an_image_of_720p_or_less_keeps_its_size():
    keyframe = media.load_keyframe(samples.image_bytes("JPEG", (1280, 720)), "hd.jpg")
    assert (keyframe.width, keyframe.height) == (1280, 720)
    assert not any(note.startswith("scaled") for note in keyframe.notes)


# --------------------------------------------------------------------------- refusals


def test_every_refusal_is_an_invalid_request_so_the_cli_exits_2():
    assert issubclass(media.MediaError, InvalidRequestError)
    with pytest.raises(InvalidRequestError) as caught:
        media.load_keyframe(b"just some text", "notes.png")
    assert caught.value.title == "Invalid request"
    assert str(caught.value).endswith("nothing was sent.")


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(media.UnreadableFileError, match=r"gone\.png cannot be read: no such file"):
        media.load_keyframe(tmp_path / "gone.png", "gone.png")


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(media.UnreadableFileError, match="is a folder"):
        media.load_keyframe(tmp_path, "photos")


def test_a_text_file_named_png_is_refused_as_not_an_image(tmp_path):
    path = write(tmp_path, "notes.png", b"shopping list: eggs, milk\n")
    with pytest.raises(media.NotAnImageError, match=r"notes\.png is not an image: it looks like text"):
        media.load_keyframe(path, "notes.png")


def test_an_html_page_saved_as_an_image_is_refused_saying_so(tmp_path):
    path = write(tmp_path, "cat.jpg", b"<!DOCTYPE html>\n<html><body><img src='cat.jpg'></body></html>")
    with pytest.raises(media.NotAnImageError, match=r"cat\.jpg is not an image: it looks like an HTML page"):
        media.load_keyframe(path, "cat.jpg")


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(media.NotAnImageError, match=r"empty\.png is empty"):
        media.load_keyframe(write(tmp_path, "empty.png", b""), "empty.png")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"8BPS\x00\x01" + bytes(40), "a PSD"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10"/>', "an SVG drawing"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "a HEIC/HEIF image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "an EPS"),
    ],
)
def test_an_image_format_not_accepted_is_refused_naming_it_and_the_accepted_ones(data, what):
    with pytest.raises(media.UnsupportedImageFormatError) as caught:
        media.load_keyframe(data, "art.file")
    message = str(caught.value)
    assert f"art.file is {what}" in message
    assert "JPEG, PNG, WebP, GIF, BMP, TIFF or AVIF" in message


def test_an_ico_that_pillow_could_read_is_still_refused():
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128), RED).save(buffer, "ICO")
    with pytest.raises(media.UnsupportedImageFormatError, match=r"favicon\.ico is an ICO icon"):
        media.load_keyframe(buffer.getvalue(), "favicon.ico")


def test_a_jpeg_cut_in_half_is_refused_as_damaged(tmp_path):
    data = samples.noise_jpeg()
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    with pytest.raises(media.CorruptImageError, match=r"cut\.jpg is damaged or cut short"):
        media.load_keyframe(path, "cut.jpg")


def test_a_large_jpeg_cut_short_is_refused_even_when_decoded_at_reduced_scale():
    data = samples.image_bytes("JPEG", (4000, 3000), GREEN)
    with pytest.raises(media.CorruptImageError):
        media.load_keyframe(data[: len(data) * 3 // 4], "big-cut.jpg")


def test_a_png_cut_short_is_refused_as_damaged():
    buffer = io.BytesIO()
    Image.effect_noise((400, 300), 60).save(buffer, "PNG")
    with pytest.raises(media.CorruptImageError, match=r"cut\.png is damaged or cut short"):
        media.load_keyframe(buffer.getvalue()[:5000], "cut.png")


def test_an_image_whose_header_is_broken_is_refused_as_damaged():
    with pytest.raises(media.CorruptImageError, match="starts like a PNG image but its header is damaged"):
        media.load_keyframe(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "broken.png")


def test_loading_leaves_pillows_truncated_image_switch_off():
    media.load_keyframe(samples.image_bytes("JPEG", (300, 300)), "a.jpg")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_with_pillows_truncated_image_switch_on_nothing_is_passed_as_checked(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        media.load_keyframe(samples.image_bytes("JPEG", (300, 300)), "a.jpg")


@pytest.mark.parametrize("claim", [samples.png_header_claiming, samples.jpeg_header_claiming])
def test_a_20000_by_20000_image_is_refused_from_its_header_naming_both_sizes(claim, tmp_path):
    # The file holds a header and a few bytes of pixels: had it been decoded, it would have been
    # refused as damaged (after asking for 1.6 GB), not as too large.
    path = write(tmp_path, "photo.png", claim(20000, 20000))
    assert path.stat().st_size < 2000
    with pytest.raises(media.ImageTooLargeError) as caught:
        media.load_keyframe(path, "photo.png")
    assert "photo.png is 20000×20000 (400 MP); the largest image accepted is 52 MP" in str(caught.value)


def test_an_image_just_over_the_pixel_limit_is_refused():
    side = int(media.MAX_IMAGE_PIXELS**0.5) + 1
    with pytest.raises(media.ImageTooLargeError):
        media.load_keyframe(samples.png_header_claiming(side, side), "big.png")


def test_an_image_under_128_px_on_a_side_is_refused():
    with pytest.raises(media.ImageTooSmallError, match=r"thumb\.png is 300×100; a keyframe needs at least 128 px"):
        media.load_keyframe(samples.image_bytes("PNG", (300, 100)), "thumb.png")


def test_an_image_so_thin_it_would_be_under_128_px_once_scaled_is_refused():
    with pytest.raises(media.ImageTooSmallError, match=r"banner\.png is 8000×400, so long and thin.*1280×64"):
        media.load_keyframe(samples.image_bytes("PNG", (8000, 400)), "banner.png")


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.truncate(media.MAX_IMAGE_BYTES + 1)  # sparse: nothing to read, were it read
    with pytest.raises(
        media.ImageFileTooLargeError, match=r"huge\.png is 20\.1 MB; the largest image file accepted is 20 MB"
    ):
        media.load_keyframe(path, "huge.png")


def test_bytes_over_the_byte_limit_are_refused():
    with pytest.raises(media.ImageFileTooLargeError):
        media.load_keyframe(bytes(media.MAX_IMAGE_BYTES + 1), "upload")


def test_a_refusal_names_the_display_name_and_not_the_server_path(tmp_path):
    path = write(tmp_path, "tmp8f3k2upload", b"<html>not found</html>")
    with pytest.raises(media.NotAnImageError) as caught:
        media.load_keyframe(path, "photo.png")
    assert "photo.png" in str(caught.value)
    assert str(tmp_path) not in str(caught.value) and "tmp8f3k2upload" not in str(caught.value)
    assert caught.value.file_name == "photo.png"


def test_without_a_display_name_the_path_is_shown_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "notes.png", b"text")
    with pytest.raises(media.NotAnImageError, match=r"^Invalid request: notes\.png is not an image"):
        media.load_keyframe("notes.png")


def test_the_constants_the_page_and_cli_use_are_exported():
    assert media.MAX_IMAGE_BYTES == 20 * 1024 * 1024
    assert media.MAX_KEYFRAME_SIDE == 1280 and media.MIN_IMAGE_SIDE == 128
    assert {"JPEG", "PNG", "WEBP"} <= set(media.ACCEPTED_FORMATS)


# --------------------------------------------------------------------------- clips: the last frame


@pytest.fixture
def traffic_light(tmp_path) -> Path:
    """Red, then green, then blue: 6 frames each at 24 fps, H.264 with B-frames, one keyframe."""
    return samples.write_clip(tmp_path / "light.mp4", [RED, GREEN, BLUE])


def test_last_frame_is_the_last_frame_not_the_first(traffic_light):
    keyframe = media.last_frame(traffic_light, "light.mp4")
    image = decoded(keyframe)
    assert near(image.getpixel((160, 90)), BLUE)
    assert (keyframe.mime, image.format, keyframe.width, keyframe.height) == ("image/png", "PNG", 320, 180)
    assert keyframe.name == "last frame of light.mp4"


def test_last_frame_is_found_in_a_clip_of_many_keyframes(tmp_path):
    clip = samples.write_clip(tmp_path / "gop.mp4", [RED, GREEN, BLUE, WHITE], gop=5)
    assert near(decoded(media.last_frame(clip)).getpixel((160, 90)), WHITE)


def test_last_frame_of_the_sample_clip_is_its_24th(tmp_path):
    keyframe = media.last_frame(SAMPLE_CLIP, "sample.mp4")
    assert "last frame, at 0.96 s" in keyframe.notes
    assert decoded(keyframe).tobytes() == all_frames(SAMPLE_CLIP)[-1].to_image().tobytes()


def test_last_frame_of_a_portrait_720p_clip_keeps_its_size(tmp_path):
    clip = samples.write_clip(tmp_path / "tall.mp4", [GREEN], size=(720, 1280), frames_each=2)
    keyframe = media.last_frame(clip)
    assert (keyframe.width, keyframe.height) == (720, 1280)


def test_last_frame_of_a_clip_larger_than_720p_is_scaled(tmp_path):
    clip = samples.write_clip(tmp_path / "fullhd.mp4", [GREEN], size=(1920, 1080), frames_each=2)
    keyframe = media.last_frame(clip, "fullhd.mp4")
    assert (keyframe.width, keyframe.height) == (1280, 720)
    assert "scaled from 1920×1080 to 1280×720" in keyframe.notes


def test_last_frame_is_turned_as_a_phone_videos_rotation_says(tmp_path):
    clip = samples.write_clip(tmp_path / "flat.mp4", [samples.halves((320, 180), left=RED, right=BLUE)])
    phone = write(tmp_path, "phone.mov", samples.with_display_rotation(clip.read_bytes()))
    image = decoded(media.last_frame(phone))
    assert image.size == (180, 320)
    assert near(image.getpixel((90, 20)), RED) and near(image.getpixel((90, 300)), BLUE)


# --------------------------------------------------------------------------- clips: the first frame


def test_first_frame_is_the_first_frame_not_the_last(traffic_light):
    keyframe = media.first_frame(traffic_light, "light.mp4")
    image = decoded(keyframe)
    assert near(image.getpixel((160, 90)), RED)
    assert (keyframe.mime, image.format, keyframe.width, keyframe.height) == ("image/png", "PNG", 320, 180)
    assert keyframe.name == "first frame of light.mp4" and "first frame, at 0.00 s" in keyframe.notes


def test_first_frame_of_the_sample_clip_is_its_first_decoded_frame():
    keyframe = media.first_frame(SAMPLE_CLIP, "sample.mp4")
    assert decoded(keyframe).tobytes() == all_frames(SAMPLE_CLIP)[0].to_image().tobytes()


def test_first_frame_of_a_clip_larger_than_720p_is_scaled(tmp_path):
    clip = samples.write_clip(tmp_path / "fullhd.mp4", [GREEN], size=(1920, 1080), frames_each=2)
    keyframe = media.first_frame(clip, "fullhd.mp4")
    assert (keyframe.width, keyframe.height) == (1280, 720)
    assert "scaled from 1920×1080 to 1280×720" in keyframe.notes


def test_first_frame_is_turned_as_a_phone_videos_rotation_says(tmp_path):
    clip = samples.write_clip(tmp_path / "flat.mp4", [samples.halves((320, 180), left=RED, right=BLUE)])
    phone = write(tmp_path, "phone.mov", samples.with_display_rotation(clip.read_bytes()))
    image = decoded(media.first_frame(phone))
    assert image.size == (180, 320)
    assert near(image.getpixel((90, 20)), RED) and near(image.getpixel((90, 300)), BLUE)


def test_first_frame_of_a_file_that_is_not_a_video_is_refused_naming_it(tmp_path):
    path = write(tmp_path, "fox.mp4", b"<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(media.UndecodableVideoError, match=r"fox\.mp4 cannot be decoded as a video: it is an HTML"):
        media.first_frame(path, "fox.mp4")


def test_a_clip_is_judged_by_its_content_not_its_name(tmp_path, traffic_light):
    renamed = write(tmp_path, "clip.png", traffic_light.read_bytes())
    assert near(decoded(media.last_frame(renamed)).getpixel((160, 90)), BLUE)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "it is empty"),
        (bytes(range(256)) * 40, "it is data of an unknown kind"),
        (samples.image_bytes("PNG", (320, 180)), "it is a PNG image"),
        (b"<html><body>502 Bad Gateway</body></html>", "it is an HTML page"),
    ],
    ids=["empty", "garbage", "png", "html"],
)
def test_a_file_that_is_not_a_video_is_refused_naming_it(tmp_path, content, why):
    path = write(tmp_path, "fox.mp4", content)
    with pytest.raises(media.UndecodableVideoError) as caught:
        media.last_frame(path, "fox.mp4")
    assert f"fox.mp4 cannot be decoded as a video: {why}" in str(caught.value)
    assert "nothing was sent" in str(caught.value)


@pytest.mark.parametrize("faststart", [False, True], ids=["index-at-end", "index-first"])
def test_an_mp4_cut_in_half_is_refused(tmp_path, faststart):
    whole = samples.write_clip(tmp_path / "whole.mp4", samples.noise_pictures(4), faststart=faststart)
    cut = write(tmp_path, "fox.mp4", samples.cut_inside_media_data(whole.read_bytes()))
    with pytest.raises(media.UndecodableVideoError, match=r"fox\.mp4 cannot be decoded as a video"):
        media.last_frame(cut, "fox.mp4")


def test_an_mp4_whose_frames_stop_early_is_refused_as_cut_short_not_given_its_last_whole_frame(tmp_path):
    whole = samples.write_clip(tmp_path / "whole.mp4", samples.noise_pictures(4), faststart=True)
    cut = write(tmp_path, "fox.mp4", samples.cut_before_packet(whole, 12))
    with pytest.raises(media.UndecodableVideoError, match=r"fox\.mp4 .*its frames stop at .* of its 1\.00 s"):
        media.last_frame(cut, "fox.mp4")


def test_a_missing_clip_is_refused(tmp_path):
    with pytest.raises(media.UnreadableFileError, match=r"fox\.mp4 cannot be read"):
        media.last_frame(tmp_path / "fox.mp4", "fox.mp4")


def test_a_clip_refusal_names_the_display_name_and_not_the_server_path(tmp_path):
    path = write(tmp_path, "upload123", b"\x00\x00\x00\x18ftypisom" + bytes(100))
    with pytest.raises(media.UndecodableVideoError) as caught:
        media.last_frame(path, "fox.mp4")
    assert "fox.mp4" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_clip_info_reads_duration_shape_codec_and_rate():
    info = media.clip_info(SAMPLE_CLIP, "sample.mp4")
    assert info == media.ClipInfo(
        name="sample.mp4",
        duration=1.0,
        width=320,
        height=180,
        codec="h264",
        fps=24.0,
        frame_count=24,
        pixel_format="yuv420p",
        has_audio=False,
    )


# --------------------------------------------------------------------------- clips: joining


@pytest.fixture
def three_clips(tmp_path) -> list[Path]:
    """Red-green (0.5 s), blue (0.25 s), white-red-green (0.75 s): same encoder settings, 320×180."""
    folder = tmp_path / "clips"
    folder.mkdir()
    return [
        samples.write_clip(folder / "a.mp4", [RED, GREEN]),
        samples.write_clip(folder / "b.mp4", [BLUE]),
        samples.write_clip(folder / "c.mp4", [WHITE, RED, GREEN]),
    ]


def test_three_clips_join_into_one_mp4_as_long_as_all_three(three_clips, tmp_path):
    info = media.join_clips(three_clips, tmp_path / "joined.mp4", names=["a.mp4", "b.mp4", "c.mp4"])
    total = sum(media.clip_info(clip).duration for clip in three_clips)
    assert info.duration == pytest.approx(total, abs=1 / 24)
    assert info.duration == pytest.approx(1.5, abs=1 / 24)
    assert (info.width, info.height, info.codec, info.name) == (320, 180, "h264", str(tmp_path / "joined.mp4"))


def test_a_joined_clip_decodes_to_every_frame_of_its_clips_in_order(three_clips, tmp_path):
    media.join_clips(three_clips, tmp_path / "joined.mp4")
    frames = all_frames(tmp_path / "joined.mp4")
    assert len(frames) == sum(len(all_frames(clip)) for clip in three_clips) == 36
    colours = [frames[i].to_image().getpixel((160, 90)) for i in range(0, 36, 6)]
    for seen, expected in zip(colours, [RED, GREEN, BLUE, WHITE, RED, GREEN], strict=True):
        assert near(seen, expected)
    times = [frame.time for frame in frames]
    assert times == sorted(times) and len(set(times)) == 36


def test_a_joined_clip_is_not_re_encoded(three_clips, tmp_path):
    media.join_clips(three_clips, tmp_path / "joined.mp4")
    with av.open(str(three_clips[1])) as container:
        blue_packets = [bytes(p) for p in container.demux(video=0) if p.size]
    with av.open(str(tmp_path / "joined.mp4")) as container:
        joined_packets = [bytes(p) for p in container.demux(video=0) if p.size]
    assert joined_packets[12:18] == blue_packets


def test_a_joined_clip_has_its_index_first_so_it_plays_while_downloading(three_clips, tmp_path):
    media.join_clips(three_clips, tmp_path / "joined.mp4")
    data = (tmp_path / "joined.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_the_last_frame_of_a_joined_clip_is_the_last_clips_last(three_clips, tmp_path):
    media.join_clips(three_clips, tmp_path / "joined.mp4")
    assert near(decoded(media.last_frame(tmp_path / "joined.mp4")).getpixel((160, 90)), GREEN)


def test_a_join_writes_only_its_output(three_clips, tmp_path):
    media.join_clips(three_clips, tmp_path / "joined.mp4")
    assert leftovers(tmp_path) == ["clips", "joined.mp4"]


def test_a_successful_join_replaces_an_older_file_of_that_name(three_clips, tmp_path):
    (tmp_path / "joined.mp4").write_bytes(b"an older join")
    media.join_clips(three_clips[:2], tmp_path / "joined.mp4")
    assert media.clip_info(tmp_path / "joined.mp4").duration == pytest.approx(0.75, abs=1 / 24)


def test_clips_of_different_shapes_are_refused_naming_both(tmp_path):
    wide = samples.write_clip(tmp_path / "a.mp4", [RED], size=(320, 180))
    tall = samples.write_clip(tmp_path / "b.mp4", [RED], size=(180, 320))
    with pytest.raises(media.ClipsDoNotMatchError) as caught:
        media.join_clips([wide, tall], tmp_path / "out.mp4", names=["a.mp4", "b.mp4"])
    assert "b.mp4 is 180×320 but a.mp4 is 320×180" in str(caught.value)
    assert "cannot be joined without re-encoding" in str(caught.value)
    assert not (tmp_path / "out.mp4").exists()


def test_clips_of_different_frame_rates_are_refused(tmp_path):
    slow = samples.write_clip(tmp_path / "a.mp4", [RED], fps=24)
    fast = samples.write_clip(tmp_path / "b.mp4", [RED], fps=30)
    with pytest.raises(media.ClipsDoNotMatchError, match=r"b\.mp4 runs at 30 fps but a\.mp4 at 24 fps"):
        media.join_clips([slow, fast], tmp_path / "out.mp4", names=["a.mp4", "b.mp4"])


def test_clips_encoded_with_other_settings_are_refused(three_clips, tmp_path):
    # The sample clip is H.264 320×180 at 24 fps too, but encoded without B-frames.
    with pytest.raises(
        media.ClipsDoNotMatchError, match=r"sample\.mp4 was encoded with other H\.264 settings than a\.mp4"
    ):
        media.join_clips([three_clips[0], SAMPLE_CLIP], tmp_path / "out.mp4", names=["a.mp4", "sample.mp4"])


def test_a_clip_with_sound_is_refused_rather_than_its_sound_dropped(tmp_path):
    silent = samples.write_clip(tmp_path / "a.mp4", [RED])
    loud = samples.write_clip(tmp_path / "b.mp4", [RED], with_audio=True)
    with pytest.raises(media.UnsupportedClipError, match=r"b\.mp4 has a sound track"):
        media.join_clips([silent, loud], tmp_path / "out.mp4", names=["a.mp4", "b.mp4"])


@pytest.mark.parametrize("count", [0, 1])
def test_fewer_than_two_clips_are_refused(three_clips, tmp_path, count):
    with pytest.raises(media.TooFewClipsError, match=f"joining needs at least 2 clips \\(got {count}"):
        media.join_clips(three_clips[:count], tmp_path / "out.mp4")


def test_a_missing_clip_is_refused_before_anything_is_written(three_clips, tmp_path):
    with pytest.raises(media.UnreadableFileError, match=r"gone\.mp4 cannot be read"):
        media.join_clips([three_clips[0], tmp_path / "gone.mp4"], tmp_path / "out.mp4", names=["a.mp4", "gone.mp4"])
    assert leftovers(tmp_path) == ["clips"]


def test_an_undecodable_clip_is_refused_naming_it(three_clips, tmp_path):
    junk = write(tmp_path, "junk.mp4", b"definitely not a video")
    with pytest.raises(media.UndecodableVideoError, match=r"junk\.mp4 cannot be decoded as a video"):
        media.join_clips([three_clips[0], junk], tmp_path / "out.mp4", names=["a.mp4", "junk.mp4"])


def test_a_failed_join_leaves_no_partial_file_and_the_old_output_untouched(three_clips, tmp_path):
    # Its index is whole, so the clip passes the first look; its frames run out half way, while the
    # joined file is being written.
    whole = samples.write_clip(tmp_path / "whole.mp4", samples.noise_pictures(4), faststart=True)
    cut = write(tmp_path, "cut.mp4", samples.cut_before_packet(whole, 12))
    whole.unlink()
    output = write(tmp_path, "joined.mp4", b"yesterday's join")
    with pytest.raises(media.UndecodableVideoError, match=r"cut\.mp4 cannot be decoded as a video: its frames stop"):
        media.join_clips([three_clips[0], cut], output, names=["a.mp4", "cut.mp4"])
    assert output.read_bytes() == b"yesterday's join"
    assert leftovers(tmp_path) == ["clips", "cut.mp4", "joined.mp4"]


def test_a_join_into_a_folder_that_does_not_exist_is_refused(three_clips, tmp_path):
    with pytest.raises(media.JoinOutputError, match=r"the folder of .*out\.mp4 does not exist"):
        media.join_clips(three_clips, tmp_path / "missing" / "out.mp4")


def test_names_must_match_clips_one_to_one(three_clips, tmp_path):
    with pytest.raises(ValueError, match="3 clips but 2 names"):
        media.join_clips(three_clips, tmp_path / "out.mp4", names=["a.mp4", "b.mp4"])


def test_a_join_the_server_cannot_write_names_no_server_path_to_a_visitor():
    err = media.JoinOutputError("/srv/ray/clips/chain-1a2b.mp4", "/srv/ray/clips/chain-1a2b.mp4 cannot be written: "
                                "No space left on device")  # fmt: skip
    assert "/srv/ray" in str(err)  # the owner (log, CLI) reads where
    assert "/srv" not in err.visitor_message(own_key=False) and "disk may be full" in err.visitor_message()
