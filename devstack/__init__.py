"""Dev-only tooling: run the coupon API locally without Docker (see DESIGN.md section 4).

- :mod:`devstack.template` reads ``template.yaml`` (the one source of truth).
- :mod:`devstack.dynamodb_local` runs Amazon's DynamoDB Local (or moto's server as a fallback).
- :mod:`devstack.gateway` is a local HTTP API gateway (payload format 2.0).
- :mod:`devstack.serve` wires them together for ``make dev``.
- :mod:`devstack.sam_build` runs ``sam build`` for any architecture (``make bench``, tests).
"""
