"""The only package that talks to DynamoDB: `client` holds the client and the one place that
turns DynamoDB's refusals into ours; each other module keeps one kind of record.

Keys (one table, every key carries the account):
  coupon       PK=A#<account>#C#<cpnNo>          SK=C            coupons.py
  redemption   PK=A#<account>#C#<cpnNo>          SK=R#<rdmId>    redemptions.py (kept after
                                                                 the coupon is deleted)
  idempotency  PK=A#<account>#IK#<route>#<hash>  SK=IK           idempotency.py (24 h, TTL)
  account      PK=ACCOUNT#<account>              SK=ACCOUNT      accounts.py
  API key      PK=KEY#<sha256(key)>              SK=KEY          accounts.py
  template     PK=A#<account>#TMPL               SK=T#<tmplIdx>  numbered.py (SK N: the
  group        PK=A#<account>#GRP                SK=G#<grpIdx>   numbered.py  numbers)

A coupon also carries the keys of the three listing indexes (listing.py). Business rules that
must be atomic ride in condition expressions; when one fails, the old item comes back with the
error (ReturnValuesOnConditionCheckFailure=ALL_OLD) so the caller names the rule without a
second read.
"""
