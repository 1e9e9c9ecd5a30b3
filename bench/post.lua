-- wrk script: POST a real ANNOTATION_CREATED body, with a unique annotation id per request so a
-- deduplicating receiver really stores every one. Body template and headers come from env.
local template = io.open(os.getenv("BENCH_BODY"), "r"):read("*a")
local secret = os.getenv("BENCH_SECRET")
local counter = 0
local next_thread = 0
-- thread_id is a global that setup() sets in each thread's own Lua state (a local would shadow it)

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function request()
  counter = counter + 1
  local body = template:gsub("__UNIQUE__", tostring(thread_id * 100000000 + counter))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-LSQA-Secret"] = secret}, body)
end
