"""The domain operations, by what they are about: coupons (create, bulk, update, delete,
validate), redemptions (redeem, cancel, history) and listing. Each takes the caller's account
and a request parsed at the edge (models.py for bodies, queries.py for query strings) and
returns the envelope's `result`, or raises CouponError. Only the store talks to DynamoDB."""
