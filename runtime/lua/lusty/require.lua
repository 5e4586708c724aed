-- The global `require` of a host (installed by runtime/src/lua/lua_require.c):
-- Lua's own, with errors that say what matters.
--
--   - A module not found: the few places searched that matter and who
--     asked ("asked by app/users.lua:3"), instead of every file tried.
--   - A module whose loading raised is loaded again by a later require,
--     which so reports the cause again (app/x.lua:3: boom), where Lua says
--     only "loop or previous error loading module".
--
-- The error of a module that raised keeps the traceback of where it was
-- raised (host.msgh notes it, host.rethrow raises it again).
local host = require 'lusty.host'

local type, error, xpcall, find = type, error, xpcall, string.find
local msgh, rethrow = host.msgh, host.rethrow

local where = require 'lusty.where'

return function(require, notFound)
  local loaded = package.loaded

  return function(name)
    local ok, result = xpcall(require, msgh, name)
    if ok then return result end
    if type(result) == 'string' and type(name) == 'string' then
      if find(result, "module '" .. name .. "' not found:", 1, true) == 1 then
        local who = where(2)
        error(notFound(name) .. (who and ('\n\tasked by ' .. who) or ''), 2)
      end
      -- A real loop (a module required again while it loads) stays Lua's.
      if find(result, 'loop or previous error loading module', 1, true) then
        return rethrow(result)
      end
    end
    -- Lua leaves a marker in package.loaded that makes every later require
    -- say only "loop or previous error": without it, a later require
    -- loads the module again and reports its own cause (the same error
    -- for a mistake in the code; success once a passing cause, such as
    -- running out of file descriptors, is gone).
    if type(name) == 'string' and loaded[name] ~= nil then loaded[name] = nil end
    return rethrow(result)
  end
end
