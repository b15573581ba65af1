"""The C part of the package; everything else is declared in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # The unified record's Avro writer and reader (exchange/worker/records_codec.py uses
        # them when built, else its Python ones; tests/unit/test_records_codec.py requires it).
        Extension(
            "exchange.worker._record_codec",
            sources=["exchange/worker/_record_codec.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        ),
    ],
)
