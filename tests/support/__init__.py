"""What the tests and the benchmarks share, as plain modules: import them, never a test module or a
conftest.py (docs/testing.md, "Where the helpers live").

- `clock`: the tests' fixed "now" and a settable clock for the app;
- `live`: the real server (`python -m server.cli serve`) on a real port, and its log checked for leaks;
- `tablet`: the simulated tablet (`events/tablet.py`) and the scenarios several modules share;
- `device_api`: the device API (`/api/v1`) called through a TestClient as a tablet does;
- `organizer`: signing an organizer in through the console's pages (password, then TOTP);
- `wallet`: an attendee signed up, and the tokens they hold;
- `routes`: the app's route table and a world with a value behind every path parameter, called
  as each kind of caller (the authorization matrix, the headers check);
- `token_text`: a token's text spelled from its bytes by the format, to forge and flip tokens;
- `scenarios`: the hand-computed events the projection, report and wall tests count;
- `log_state`, `faults`, `small_disk`: the crash-recovery harness, and a real small disk.
"""
