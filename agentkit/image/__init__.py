"""Instance images: the root file system of the instance verify models (`--image`).

The cache (cache.py), safe unpacking of a tarball (unpack.py), building one with debootstrap
(build.py).
"""
