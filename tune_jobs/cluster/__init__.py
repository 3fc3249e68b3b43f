"""Ray cluster plumbing, each part Ray's own machinery: `address` (does a cluster answer, where
is its dashboard), `auth` (Ray's token authentication), `nodes` (how many, and the shared-storage
rule), `local` (a cluster of `ray start` processes on this machine).
"""
