"""The catalog's closed vocabularies: kinds, flavours, capabilities, precisions.

Plain enums in a module of their own, so code that only needs a word list (a question's
requirements, the rules' fields) does not build the curated-file schemas in
knowledge/records.py (about 20 ms of every command's start-up).
"""

from __future__ import annotations

from enum import StrEnum


class ProviderKind(StrEnum):
    company = "company"
    nonprofit = "nonprofit"
    academic = "academic"
    government = "government"
    collective = "collective"


class Commercial(StrEnum):
    yes = "yes"
    no = "no"
    conditional = "conditional"


class LicenseKind(StrEnum):
    permissive = "permissive"
    copyleft = "copyleft"
    noncommercial = "noncommercial"
    use_restricted = "use-restricted"
    model_specific = "model-specific"
    proprietary = "proprietary"


class GpuVendor(StrEnum):
    nvidia = "nvidia"
    amd = "amd"
    apple = "apple"
    intel = "intel"


class GpuSegment(StrEnum):
    consumer = "consumer"
    workstation = "workstation"
    datacenter = "datacenter"
    apple = "apple"


class Availability(StrEnum):
    open_weights = "open-weights"
    proprietary_api = "proprietary-api"
    unreleased = "unreleased"


class Flavor(StrEnum):
    base = "base"
    instruct = "instruct"
    chat = "chat"
    code = "code"
    long_context = "long-context"
    reasoning = "reasoning"
    domain = "domain"
    embedding = "embedding"


class ArchitectureKind(StrEnum):
    decoder_only = "decoder-only"
    encoder_only = "encoder-only"
    encoder_decoder = "encoder-decoder"
    moe = "moe"
    hybrid_ssm = "hybrid-ssm"


class Capability(StrEnum):
    code = "code"
    math = "math"
    tool_use = "tool-use"
    vision = "vision"
    multilingual = "multilingual"
    long_context = "long-context"
    reasoning = "reasoning"


class NativePrecision(StrEnum):
    """The number format a model's official weights ship in (what it costs at full quality)."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    mxfp4 = "mxfp4"
    nvfp4 = "nvfp4"
    int4 = "int4"
