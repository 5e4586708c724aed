-- Which request each coroutine is serving (internal): the context builder
-- lists a request's coroutine here while its pipeline runs, so that the
-- `ngx` API (runtime/lua/ngx.lua) and print() find the current request
-- without anything being built per request. Keys are weak: a cancelled
-- request's coroutine goes away with its entry.
--
-- EXIT is what ngx.exit() raises to end the pipeline: App:request stops
-- at it without recording an error.
--
-- responses holds each request's own response table (the one the server
-- writes), which ngx writes to even when the app put another table in
-- context.response (as OpenResty-era adapters do, over ngx itself).
return {
  requests = setmetatable({}, { __mode = 'k' }),
  responses = setmetatable({}, { __mode = 'k' }),
  EXIT = setmetatable({}, { __tostring = function() return 'ngx.exit' end }),
}
