import dh
import pytest


def test_version_matches_major():
    assert dh.version().split(".")[0] == "1"


def test_threads_roundtrip_and_error_carries_message():
    dh.set_num_threads(2)
    assert dh.get_num_threads() == 2
    with pytest.raises(dh.DhError) as e:
        dh.set_num_threads(100000)
    assert e.value.status == -1
    assert "4096" in str(e.value)
    dh.set_num_threads(0)


def test_isa_names_and_forcing():
    assert dh.cpu_has_isa(dh.ISA_SCALAR)
    dh.set_isa("scalar")
    assert dh.get_isa() == dh.ISA_SCALAR
    with pytest.raises(ValueError):
        dh.set_isa("sse9")
    dh.set_isa(dh.ISA_AUTO)
    assert dh.isa_name(dh.get_isa()) in ("scalar", "avx2", "avx512bw", "avx512vpopcnt")


def test_code_bytes():
    assert dh.code_bytes(64) == 8 and dh.code_bytes(12) == 2
