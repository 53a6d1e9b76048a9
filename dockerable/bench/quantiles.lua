-- wrk script: after the report, the run's latency quantiles, one "quantile LEVEL MICROSECONDS"
-- line every 0.1% up to 99% and every 0.01% above, then the maximum. The suite turns them back
-- into a histogram (load.py), because histograms of separate runs can be added up and their
-- percentiles cannot. (wrk 4.1's Lua API has no working access to its raw histogram.)
-- With WRK_BODY naming a file (the upload measure, suite.py), each request POSTs its bytes; the
-- headers that go with them (-H) are on the command line.
local body_file = os.getenv("WRK_BODY")
if body_file then
    local file = assert(io.open(body_file, "rb"))
    wrk.method = "POST"
    wrk.body = file:read("*a")
    file:close()
end

local function quantile(level, microseconds)
    io.write(string.format("quantile %.2f %d\n", level, microseconds))
end

done = function(summary, latency, requests)
    for tenth = 1, 990 do
        quantile(tenth / 10, latency:percentile(tenth / 10))
    end
    for hundredth = 9901, 9999 do
        quantile(hundredth / 100, latency:percentile(hundredth / 100))
    end
    -- percentile(100) asks for one rank past the last and returns 0: the maximum is that value.
    quantile(100, latency.max)
end
