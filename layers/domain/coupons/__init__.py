"""Coupon domain: models, rules, store, HTTP mapping and messages shared by every function."""
