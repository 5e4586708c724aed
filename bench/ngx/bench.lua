-- ngx.shared operations in a loop, run unchanged by nginx's Lua module
-- (content_by_lua_file) and by `lusty exec` (bench/ngx/run). Prints one
-- line per operation: its name and nanoseconds per call (CPU time).
local n = tonumber(os.getenv('OPS') or '') or 300000
local d = ngx.shared.bench
local out = ngx.get_phase() == 'content' and ngx.say or print
local keys = {}
for i = 0, 999 do keys[i] = 'key' .. i end
d:flush_all()

local function time(name, fn)
  local t0 = os.clock()
  fn()
  out(('%s %.1f'):format(name, (os.clock() - t0) * 1e9 / n))
end

time('set', function() for i = 1, n do d:set(keys[i % 1000], i) end end)
time('get', function() for i = 1, n do d:get(keys[i % 1000]) end end)
time('incr', function() for i = 1, n do d:incr(keys[i % 1000], 1, 0) end end)
time('add', function() for i = 1, n do d:add(keys[i % 1000], i) end end)
time('delete', function() for i = 1, n do d:delete(keys[i % 1000]) end end)
