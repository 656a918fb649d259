"""Long random runs outside pytest, tallying outcomes and refusals by seed:
python tests/fuzz_run.py START COUNT INPLACE JIT_EVERY CONTROL [MAX_STATEMENTS]
(INPLACE, CONTROL: the generator's weights; JIT_EVERY: every n-th seed also with jit=True, 0 never)."""

import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from program_generator import RandomChooser, generate  # noqa: E402
import test_random_programs as T  # noqa: E402
from adcompiler import CompileError  # noqa: E402

start, count, inplace, jit_every, control = (int(a) for a in sys.argv[1:6])
max_statements = int(sys.argv[6]) if len(sys.argv) > 6 else 14
outcomes, refusals, features, failures = Counter(), Counter(), Counter(), []
t0 = time.time()
for seed in range(start, start + count):
    program = generate(RandomChooser(seed), max_statements=max_statements, inplace=inplace, control=control,
                       exclude=T.EXCLUDE)
    features.update(program.features)
    for jit in ([False, True] if jit_every and seed % jit_every == 0 else [False]):
        try:
            T.check_program(program, jit=jit, extra=not jit)
        except T.NotSmooth:
            outcomes["not smooth"] += 1
        except T.Refused as r:
            outcomes["refused as documented"] += 1
            refusals[T._signature(str(r))] += 1
        except T.ProgramFailure as failure:
            text = str(failure)
            cause = failure.__cause__
            if failure.kind == "crash" and isinstance(cause, CompileError):
                outcomes["refused (other)"] += 1
                refusals["OTHER " + T._signature(str(cause))] += 1
                print(f"OTHER seed {seed} jit {jit}: {str(cause).splitlines()[0][:300]}", flush=True)
            else:
                outcomes[f"FAIL {failure.kind}"] += 1
                failures.append((seed, jit, text))
                print(f"\n##### seed {seed} jit {jit}\n{text}\n", flush=True)
        except Exception as error:  # noqa: BLE001
            outcomes["test error"] += 1
            print(f"\n##### seed {seed} TEST ERROR {''.join(traceback.format_exception_only(type(error), error))}", flush=True)
        else:
            outcomes["checked" + (" jit" if jit else "")] += 1
    if (seed - start + 1) % 100 == 0:
        print(f"{seed - start + 1} programs {time.time() - t0:.0f}s {dict(outcomes)}", flush=True)
print(f"DONE {count} programs inplace={inplace} in {time.time() - t0:.0f}s: {dict(outcomes)}")
print("refusals:")
for k, v in refusals.most_common(15):
    print(f"  {v:5d} {k}")
print("features:", dict(features.most_common()))
