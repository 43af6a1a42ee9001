"""argon2id password hashes (argon2-cffi). Only the auth function and the operator tools (reset_password, the migrate
function's operator action) import this module.

Parameters: t=2 passes over m=64 MiB, one lane — about 130 ms per hash on the reference machine (2 vCPU; `make
bench` prints it), inside the 50-250 ms the project asks for; one lane because a Lambda below 1,769 MB has less than
one vCPU. Each hash records its parameters, so raising them later rehashes a password at its owner's next login.
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TIME_COST: Final = 2
MEMORY_COST_KIB: Final = 64 * 1024
PARALLELISM: Final = 1

_hasher: Final = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, hash_len=32, salt_len=16, type=Type.ID
)

# The hash of a random, forgotten password, with the parameters above: verifying against it when the username does
# not exist costs what a real verification costs, so a wrong username and a wrong password take the same time.
DUMMY_HASH: Final = "$argon2id$v=19$m=65536,t=2,p=1$uys7nr/fOIjlbnILonMONg$YXN9cm5v98kvrKCMik2rcpG6sK/dr/DTFX3DDXg9Hu8"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (unknown user) the dummy is checked, so the cost is the same."""
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
