-- Which request each coroutine is serving (internal): once the host has
-- loaded the `ngx` API (`active`), the context builder lists a request's
-- coroutine here while its pipeline runs, so that ngx (runtime/lua/ngx.lua)
-- and print() find the current request. A host whose code never touches
-- ngx lists nothing. Keys are weak: a cancelled request's coroutine goes
-- away with its entry. `serve` is the context builder's function, whose
-- frame holds the request in flight when ngx is loaded during one.
--
-- EXIT is what ngx.exit() raises to end the pipeline: App:request stops
-- at it without recording an error.
--
-- responses holds each request's own response table (the one the server
-- writes), which ngx writes to even when the app put another table in
-- context.response (as OpenResty-era adapters do, over ngx itself).
return {
  active = false,
  requests = setmetatable({}, { __mode = 'k' }),
  responses = setmetatable({}, { __mode = 'k' }),
  EXIT = setmetatable({}, { __tostring = function() return 'ngx.exit' end }),
}
