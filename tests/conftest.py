"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's shared folder (real third-party media, reference specs); skip when absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-media tests need ../shared beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def reference_specs(shared_dir: Path) -> list[Path]:
    specs = sorted((shared_dir / "reference-specs").glob("*.json"))
    if not specs:
        pytest.skip("no reference specs in ../shared/reference-specs")
    return specs


# --- hostile media -----------------------------------------------------------------------------


class _Bits:
    """An H.264 RBSP as a string of '0'/'1' characters, read with the spec's u(n) and ue(v)."""

    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.pos = 0

    def u(self, n: int) -> int:
        value = int(self.bits[self.pos : self.pos + n] or "0", 2)
        self.pos += n
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bits[self.pos] == "0":
            zeros += 1
            self.pos += 1
        self.pos += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _ue_bits(value: int) -> str:
    binary = bin(value + 1)[2:]
    return "0" * (len(binary) - 1) + binary


def _escape(rbsp: bytes) -> bytes:
    """Insert the emulation-prevention bytes a NAL unit needs (00 00 0x -> 00 00 03 0x)."""
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


_HIGH_PROFILES = (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135)


def rewrite_sps_frame_size(sps: bytes, width: int, height: int) -> bytes:
    """The SPS NAL unit ``sps`` declaring ``width`` x ``height`` (multiples of 16) instead."""
    rbsp = _Bits(sps[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    profile = rbsp.u(8)
    rbsp.u(16)  # constraint flags, level
    rbsp.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if rbsp.ue() == 3:
            rbsp.u(1)
        rbsp.ue(), rbsp.ue(), rbsp.u(1)
        assert rbsp.u(1) == 0, "scaling matrices are not handled"
    rbsp.ue()  # log2_max_frame_num_minus4
    poc_type = rbsp.ue()
    if poc_type == 0:
        rbsp.ue()
    elif poc_type == 1:
        rbsp.u(1), rbsp.se(), rbsp.se()
        for _ in range(rbsp.ue()):
            rbsp.se()
    rbsp.ue(), rbsp.u(1)  # max_num_ref_frames, gaps_in_frame_num_allowed
    start = rbsp.pos
    rbsp.ue(), rbsp.ue()  # pic_width_in_mbs_minus1, pic_height_in_map_units_minus1
    size_bits = _ue_bits(width // 16 - 1) + _ue_bits(height // 16 - 1)
    bits = (rbsp.bits[:start] + size_bits + rbsp.bits[rbsp.pos :]).rstrip("0")  # keep the stop bit
    bits += "0" * (-len(bits) % 8)
    return sps[:1] + _escape(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)))


def declare_frame_size(path: Path, width: int, height: int) -> None:
    """Rewrite the SPS in an MP4's ``avcC`` box (and the sizes of the boxes around it): the
    frames stay tiny, the stream claims ``width`` x ``height``."""
    data = bytearray(path.read_bytes())
    at = data.find(b"avcC")
    box_start, box_size = at - 4, int.from_bytes(data[at - 4 : at], "big")
    body = bytes(data[at + 4 : box_start + box_size])
    assert body[5] & 0x1F == 1, "one SPS expected"
    sps_len = int.from_bytes(body[6:8], "big")
    sps = rewrite_sps_frame_size(body[8 : 8 + sps_len], width, height)
    new_body = body[:6] + len(sps).to_bytes(2, "big") + sps + body[8 + sps_len :]
    delta = len(new_body) - len(body)
    data[box_start : box_start + box_size] = (box_size + delta).to_bytes(4, "big") + b"avcC" + new_body
    moov = data.find(b"moov")
    assert moov < box_start and data.find(b"mdat") < moov, "moov after mdat: chunk offsets stay valid"
    for name in (b"avc1", b"stsd", b"stbl", b"minf", b"mdia", b"trak", b"moov"):
        pos = data.rfind(name, moov - 1, box_start)
        size = int.from_bytes(data[pos - 4 : pos], "big")
        data[pos - 4 : pos] = (size + delta).to_bytes(4, "big")
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def huge_frame_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~71 KB H.264 MP4 of 64x64 frames whose SPS declares 16384x16000 (262 MP a frame)."""
    from autovid import samples

    path = tmp_path_factory.mktemp("hostile") / "huge.mp4"
    samples.make_video(path, duration_s=4.6, width=64, height=64, fps=30)
    declare_frame_size(path, 16384, 16000)
    return path
