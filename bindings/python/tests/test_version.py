"""The binding checks the library's major version at load."""
import os

import pytest

import flp


def test_version_agrees_with_its_number():
    n = flp.version_number()
    major, minor, patch = (int(p) for p in flp.version().split("."))
    assert n == major * 10000 + minor * 100 + patch
    assert major == flp.EXPECTED_MAJOR


def test_other_major_is_refused():
    with pytest.raises(flp.LibraryVersionError, match="needs major version 0"):
        flp.check_version(10203)
    flp.check_version(99)  # 0.0.99: same major
    with pytest.raises(flp.LibraryVersionError):
        flp.load_library(os.environ["FLP_LIBRARY"], expected_major=flp.EXPECTED_MAJOR + 1)


def test_missing_library_is_reported(tmp_path):
    with pytest.raises(flp.LibraryNotFoundError, match="FLP_LIBRARY"):
        flp.load_library(str(tmp_path / "libflp.so"))
