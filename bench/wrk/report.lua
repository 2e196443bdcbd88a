-- Appended to every script: one machine-readable line for bench/run.py.
function done(summary, latency, requests)
  local errors = summary.errors
  local failures = chain_failures and chain_failures() or 0
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"chain_failures":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, failures,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
