"""Authentication shared by every HTTP function (DESIGN.md §6).

- `rules`: username and password rules (pure).
- `tokens`: JWT (HS256) with `sub`, `sid`, `iat`, `exp`; `keys`: the signing key (Secrets Manager, cached).
- `passwords`: argon2id hashing (only the auth function and the operator tool import it).
- `sessions`, `accounts`, `throttle`: the database side (revocable sessions, accounts, login throttle).
- `deps`: the `CurrentUser` dependency every protected route uses (Bearer or cookie + CSRF rule) and the cookie.
- `deletion`: deleting an account with everything it owns (rows and uploaded objects).
- `reset_password`: the operator's command-line tool (`python -m labfolio_common.auth.reset_password`).

Nothing is imported here, so a function pays only for the modules it uses.
"""
