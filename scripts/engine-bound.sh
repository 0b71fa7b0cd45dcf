#!/usr/bin/env bash
# The engine-bound run of BENCHMARKS.md by hand: i2k sim with both budgets unlimited, no latency
# and no bulk-job delay; i2k run --headless under /usr/bin/time -v, sampling the run's VmRSS and
# VmHWM every 5 s (rss.txt, beside the run's status line); records/s from the Kustomer truth;
# then (VERIFY=0 skips it) i2k verify against the same simulators, the truth's duplicates and
# the state directory's disk use. The state directory is removed at the end (large: ≈ 20 GB).
#
# usage: scripts/engine-bound.sh BIN SIZE TAG   (OUT=dir for the results, default /tmp)
BIN=$1; SIZE=${2:-medium}; TAG=${3:-x}
D=${OUT:-/tmp}/engine-bound.$TAG; rm -rf $D; mkdir -p $D
$BIN sim --size $SIZE --seed 42 --intercom-rate 1000000 --kustomer-rate 100000000 --latency-ms 0 --bulk-delay-ms 0 > $D/sim.out 2> $D/sim.err &
SIM=$!
for i in $(seq 1 300); do [ -s $D/sim.out ] && break; sleep 0.2; done
J=$(head -1 $D/sim.out)
IU=$(echo "$J" | python3 -c 'import json,sys;print(json.load(sys.stdin)["intercom_url"])')
KU=$(echo "$J" | python3 -c 'import json,sys;print(json.load(sys.stdin)["kustomer_url"])')
export INTERCOM_TOKEN=$(echo "$J" | python3 -c 'import json,sys;print(json.load(sys.stdin)["intercom_token"])')
export KUSTOMER_API_KEY=$(echo "$J" | python3 -c 'import json,sys;print(json.load(sys.stdin)["kustomer_token"])')
S0=$(awk '{print $14+$15}' /proc/$SIM/stat)
/usr/bin/time -v $BIN run --headless --accept-defaults --no-verify --kustomer-rate 100000000 --state $D/state --intercom-url $IU --kustomer-url $KU --allow-insecure-http > $D/run.out 2> $D/run.err &
TP=$!
sleep 0.5
RUN=$(pgrep -P $TP | head -1)
T=0
while kill -0 $TP 2>/dev/null; do
  R=$(grep -E "VmRSS|VmHWM" /proc/$RUN/status 2>/dev/null | awk '{printf "%s %s ", $1, $2}')
  L=$(tail -c 250 $D/run.out | tr '\r' '\n' | tail -1 | cut -c1-200)
  echo "$T $R | $L" >> $D/rss.txt
  sleep 5; T=$((T+5))
done
wait $TP; RC=$?
S1=$(awk '{print $14+$15}' /proc/$SIM/stat)
TRUTH=$(curl -s $KU/__sim/truth | python3 -c 'import json,sys;t=json.load(sys.stdin);print(sum(t["counts"].values()))' 2>/dev/null)
W=$(grep "Elapsed (wall" $D/run.err | awk '{print $NF}')
U=$(grep "User time" $D/run.err | awk '{print $NF}'); SY=$(grep "System time" $D/run.err | awk '{print $NF}')
R=$(grep "Maximum resident" $D/run.err | awk '{print $NF}')
python3 - "$W" "$U" "$SY" "$R" "$TRUTH" "$S0" "$S1" "$RC" "$TAG" <<'PY'
import sys
w,u,sy,r,t,s0,s1,rc,tag=sys.argv[1:]
p=w.split(':'); secs=sum(float(x)*60**i for i,x in enumerate(reversed(p)))
t=int(t or 0)
print(f"{tag}: rc={rc} wall={secs:.1f}s records={t} rps={t/secs:.0f} i2kcpu={float(u)+float(sy):.1f}s simcpu={(int(s1)-int(s0))/100:.1f}s rss={int(r)/1024:.1f}MiB")
PY
if [ "${VERIFY:-1}" = 1 ]; then
/usr/bin/time -v $BIN verify --state $D/state --kustomer-rate 100000000 --rate-share 1 --intercom-url $IU --kustomer-url $KU --allow-insecure-http > $D/verify.out 2> $D/verify.err; echo verify_rc=$? >> $D/verify.out
du -sb $D/state/* > $D/du.txt
curl -s $KU/__sim/truth | python3 -c "import json,sys;t=json.load(sys.stdin);print('dups',t.get('duplicates'));print('counts',t['counts'])" > $D/truth.txt
fi
kill $SIM; wait $SIM 2>/dev/null
rm -rf $D/state
