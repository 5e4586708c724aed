-- The Lua side of `lusty test` (cli/cmd_test.c): runs the app's specs with
-- busted (Debian's lua-busted) inside the app's host, so that specs see the
-- app as the server runs it: the global `lusty` (the app), its modules on
-- the module path, and `request(method, target, opts)` sending a request
-- through the pipeline without a socket (lusty.mock_request).
--
--   require('lusty.test').run() --> exit status (busted's arguments in `arg`)
local M = {}

function M.run()
  rawset(_G, 'request', function(method, target, opts)
    return require('lusty.mock_request')(rawget(_G, 'lusty'), method, target, opts)
  end)
  local found, runner = pcall(require, 'busted.runner')
  if not found then
    io.stderr:write("lusty: error: cannot load busted: it is not installed where LuaJIT looks\n",
      'hint: install it: apt-get install lua-busted\n')
    return 1
  end
  -- Busted ends a failed run by raising nil (or by os.exit with its status).
  local ok, err = pcall(runner, { standalone = false })
  if not ok then
    if err ~= nil then io.stderr:write(tostring(err), '\n') end
    return 1
  end
  return 0
end

return M
