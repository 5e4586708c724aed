-- `require 'lusty-config'(lusty, config)`: applies an app config table
-- (contract section 3) to an app object. Embedded in the runtime.
local host = require 'lusty.host'

local type, pairs, ipairs, tostring, error, require = type, pairs, ipairs, tostring, error, require

local function parts(channel)
  if type(channel) == 'table' then return channel end
  local out = {}
  for name in tostring(channel):gmatch('[^:]+') do out[#out + 1] = name end
  return out
end

-- The keys of `t` outside its array part, sorted, so that hash entries are
-- applied in the same order on every run.
local function hashKeys(t)
  local n, keys = #t, {}
  for k in pairs(t) do
    if not (type(k) == 'number' and k >= 1 and k <= n and k % 1 == 0) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- The { name, config } entries of a module list: array elements (a name, or
-- a one-entry table { [name] = config }) in order, then hash entries
-- [name] = config in name order.
local function entries(list, what)
  if type(list) == 'string' then return { { list, {} } } end
  if type(list) ~= 'table' then
    error(("%s: expected a list of module names, got %s"):format(what, type(list)), 0)
  end
  local out = {}
  for i = 1, #list do
    local e = list[i]
    if type(e) == 'string' then
      out[#out + 1] = { e, {} }
    elseif type(e) == 'table' then
      for _, name in ipairs(hashKeys(e)) do out[#out + 1] = { name, e[name] } end
    else
      error(("%s: entry %d is a %s, not a module name"):format(what, i, type(e)), 0)
    end
  end
  for _, name in ipairs(hashKeys(list)) do
    if type(name) ~= 'string' then
      error(("%s: key %s is not a module name"):format(what, tostring(name)), 0)
    end
    out[#out + 1] = { name, list[name] }
  end
  return out
end

-- Seed style: `<name>.config` maps channels to "<module>#<function>".
local function seed(lusty, name)
  local config = require(name .. '.config')
  if type(config) ~= 'table' or type(config.events) ~= 'table' then
    error(("module '%s.config' must return { events = { [channel] = 'module#function' } }")
      :format(name), 0)
  end
  for _, channel in ipairs(hashKeys(config.events)) do
    local target = config.events[channel]
    local moduleName, fnName = tostring(target):match('^([^#]+)#(.+)$')
    if not moduleName then
      error(("%s.config: event '%s' must name 'module#function', not '%s'")
        :format(name, tostring(channel), tostring(target)), 0)
    end
    local fn = require(moduleName)[fnName]
    if type(fn) ~= 'function' then
      error(("%s.config: '%s' is not a function"):format(name, target), 0)
    end
    local results = host.results
    local sub = lusty.event:subscribe(parts(channel), function(payload)
      local list = results()
      return fn(lusty, payload, function(result)
        if result ~= nil then list[#list + 1] = result end
      end)
    end)
    sub.module = target
  end
end

return function(lusty, config)
  if type(config) ~= 'table' then
    error(('the app config must be a table, not %s'):format(type(config)), 2)
  end
  if config.global ~= nil then lusty.context.global = config.global end

  local subscribers = config.subscribers or {}
  for _, channel in ipairs(hashKeys(subscribers)) do
    for _, e in ipairs(entries(subscribers[channel], "subscribers['" .. tostring(channel) .. "']")) do
      lusty:subscribe(channel, e[1], e[2])
    end
  end

  for _, name in ipairs(config.modules or {}) do seed(lusty, name) end

  for _, publisher in ipairs(config.publishers or {}) do
    lusty.publishers[#lusty.publishers + 1] = parts(publisher)
  end

  -- Last, so that a context module may publish (a log line) at start.
  if config.context ~= nil then
    for _, e in ipairs(entries(config.context, 'context')) do
      lusty:addContext(e[1], e[2])
    end
  end
  return lusty
end
