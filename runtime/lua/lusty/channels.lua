-- The channel tree of a bus as a list, for `lusty channels` (the host turns
-- it into JSON: lusty_lua_host_channels()).
--
--   require 'lusty.channels'(lusty.event) -->
--     { { channel = 'request', depth = 1, subscribers = {
--         { id = 3, priority = 1, module = 'handlers.record', predicate = true } } }, … }
--
-- Channels come depth first, children in name order; the root only when it
-- has subscribers. `module` is the handler module's name (App:subscribe
-- records it), else where the subscriber's function is defined.
local type, pairs, ipairs, tostring, sort = type, pairs, ipairs, tostring, table.sort
local getinfo = debug.getinfo

local function describe(sub, priority)
  local module = sub.module
  if type(module) ~= 'string' then
    local fn = sub.fn
    if type(fn) ~= 'function' then
      module = '(function)'
    else
      local info = getinfo(fn, 'S')
      module = info.what == 'C' and '(function: C)'
        or ('(function: %s:%d)'):format(info.short_src, info.linedefined)
    end
  end
  local options = sub.options
  return {
    id = sub.id,
    priority = priority,
    module = module,
    predicate = type(options) == 'table' and options.predicate ~= nil,
  }
end

local function walk(ch, path, depth, out)
  local list = type(ch.callbacks) == 'table' and ch.callbacks or {}
  if depth > 0 or #list > 0 then
    local subs = {}
    for i = 1, #list do subs[i] = describe(list[i], i) end
    out[#out + 1] = { channel = path, depth = depth, subscribers = subs }
  end
  local children, keys = ch.channels, {}
  if type(children) ~= 'table' then return end
  for name in pairs(children) do keys[#keys + 1] = tostring(name) end
  sort(keys)
  for _, name in ipairs(keys) do
    walk(children[name], depth == 0 and name or path .. ':' .. name, depth + 1, out)
  end
end

return function(mediator)
  local out = {}
  if type(mediator) == 'table' and type(mediator.channel) == 'table' then
    walk(mediator.channel, '', 0, out)
  end
  return out
end
