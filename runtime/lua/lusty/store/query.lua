-- lusty.store.query (contract section 9; docs/store.md): the query
-- builder, making the same clauses as the original lusty-store.query, so
-- that either builder's queries go to any backend.
--
--   local query = require 'lusty.store.query'
--   local q = query.name.eq('Ada').age.gte(30).sort({ age = -1 })
--   context.store.users.get(q)
--
-- A query is an array of clauses { field = ..., operation = ...,
-- arguments = { ... } }, all of which must hold. `q.<field>.<operation>(...)`
-- adds one and returns the query, so calls chain; `q.<modifier>(...)`
-- adds a clause without a field. Operations:
--   eq neq gt gte lt lte   one value
--   reg                    '/pattern/flags' strings, any may match
--   is / isnot             the value is one of / none of the arguments
--   has                    the array field holds every argument
--   inc                    (patch) add the number to the field
-- Modifiers: and(q1, q2, ...), or(q1, q2, ...) (sub-queries: builder
-- queries or filter tables), sort({ field = 1 | -1 } or { { 'a', 1 }, { 'b', -1 } }),
-- limit(n) or limit({ offset = n, length = m }), fields({ 'a', 'b.c' }).
-- q1 + q2 is and(q1, q2), q1 / q2 is or(q1, q2); query(q) copies q.
-- A nil value is taken as null (cjson.null).
local cjson = require 'cjson'

local setmetatable, getmetatable, select, type, error, tostring =
  setmetatable, getmetatable, select, type, error, tostring

local OPERATIONS = {
  eq = true, neq = true, gt = true, gte = true, lt = true, lte = true,
  reg = true, is = true, isnot = true, has = true, inc = true,
}
local MODIFIERS = { ['and'] = true, ['or'] = true, sort = true, limit = true, fields = true }

local Query = {}

local function args(...)
  local n = select('#', ...)
  local out = { ... }
  for i = 1, n do
    if out[i] == nil then out[i] = cjson.null end
  end
  return out
end

-- The function that adds one clause to q and returns q.
local function adder(q, field, operation)
  return function(...)
    q[#q + 1] = { field = field, operation = operation, arguments = args(...) }
    return q
  end
end

local Field = {}
Field.__index = function(self, operation)
  if not OPERATIONS[operation] then
    error(("query: unknown operation '%s' on field '%s' (known: eq, neq, gt, gte, lt, lte, reg, is, isnot, has, inc)")
      :format(tostring(operation), tostring(self.field)), 2)
  end
  return adder(self.query, self.field, operation)
end

local function wrap(q)
  return setmetatable(q, Query)
end

Query.__index = function(q, key)
  if type(key) ~= 'string' then return nil end
  if MODIFIERS[key] then return adder(q, nil, key) end
  if OPERATIONS[key] then
    error(("query: '%s' needs a field first (query.<field>.%s(...))"):format(key, key), 2)
  end
  return setmetatable({ query = q, field = key }, Field)
end

Query.__add = function(a, b)
  return wrap({ { operation = 'and', arguments = { a, b } } })
end

Query.__div = function(a, b)
  return wrap({ { operation = 'or', arguments = { a, b } } })
end

-- Marks the tables this module made, for the backends.
Query.__lustyQuery = true

local module = {}

-- Whether `q` was made by this builder.
function module.isQuery(q)
  local mt = getmetatable(q)
  return mt == Query
end

return setmetatable(module, {
  -- query() is a new query; query(q) a copy of q's clauses.
  __call = function(_, from)
    local q = {}
    if type(from) == 'table' then
      for i = 1, #from do q[i] = from[i] end
    end
    return wrap(q)
  end,
  -- query.<field> starts a new query.
  __index = function(_, key)
    return wrap({})[key]
  end,
})
