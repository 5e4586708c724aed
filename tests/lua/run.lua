-- Runs busted inside lusty's own Lua host, so that the specs exercise the
-- runtime's mediator, lusty.util, lusty-config and cjson (busted itself
-- publishes its events on our `mediator`):
--
--   lusty exec tests/lua/run.lua [busted options] [specs...]
--
-- The same runner as `lusty test` (runtime/lua/lusty/test.lua): a failed
-- run becomes a non-zero exit status.
return require('lusty.test').run()
