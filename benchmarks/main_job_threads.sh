#!/usr/bin/env bash
# The main job (`python -m perturbvae`, digits, defaults) beside one busy process, with the
# main fit on 1 thread, 2 threads and the command's default; prints wall time, the fit's time
# and the load average. Usage: benchmarks/main_job_threads.sh [python]
set -uo pipefail
cd "$(dirname "$0")/.."
py=${1:-.venv/bin/python}
work=$(mktemp -d)
python3 -c "while True: pass" &  # the busy neighbour: one core's worth of work
busy=$!
trap 'kill $busy; rm -rf "$work"' EXIT
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  cores: $(env -u OMP_NUM_THREADS nproc)"
for opt in "--threads 1" "--threads 2" ""; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  # the user's environment: no thread variables set
  env -u OMP_NUM_THREADS -u MKL_NUM_THREADS -u OPENBLAS_NUM_THREADS MPLBACKEND=Agg \
    "$py" -m perturbvae -q --out "$work/out" --force $opt > "$work/log" 2>&1 || cat "$work/log"
  end=$(date +%s.%N)
  "$py" - "$work/out/summary.json" "${opt:-default}" "$start" "$end" "$load" <<'PY'
import json, sys
path, opt, start, end, load = sys.argv[1:]
s = json.load(open(path))
print(f"{opt:<12} threads {s['threads']}  job {float(end) - float(start):6.1f} s  "
      f"fit {s['timings_s']['fit']:6.1f} s  load before {load}")
PY
done
