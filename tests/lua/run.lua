-- Runs busted inside lusty's own Lua host, so that the specs exercise the
-- runtime's mediator, lusty.util, lusty-config and cjson (busted itself
-- publishes its events on our `mediator`):
--
--   lusty exec tests/lua/run.lua [busted options] [specs...]
--
-- Busted reports a failed run by raising nil (or calling os.exit); both
-- become a non-zero exit status.
local runner = require 'busted.runner'
local ok, err = pcall(runner, { standalone = false })
if not ok then
  if err ~= nil then io.stderr:write(tostring(err), '\n') end
  return 1
end
return 0
