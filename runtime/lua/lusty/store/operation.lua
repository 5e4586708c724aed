-- lusty.store.operation (docs/store.md): a store call's arguments as the
-- one canonical operation the backends run (runtime/src/store/
-- store_internal.h describes it), checked. Used by lusty.store.backend.
--
--   local operation = require 'lusty.store.operation'
--   local ok, op = pcall(operation.make, 'get', 'users', query, meta)
--
-- Queries come in two forms. A builder query (lusty.store.query or the
-- original lusty-store.query) is an array of clauses { field, operation,
-- arguments }. A filter table uses MongoDB's syntax: { field = value } and
-- the operators of KNOWN_OPERATORS. Both become a MongoDB-syntax filter in
-- which every plain value is wrapped in $eq, so nothing given as a value
-- is ever read as an operator by a backend. A bad call raises a table
-- whose metatable is operation.Invalid, with a `message`.
local cjson = require 'cjson'

local type, pairs, ipairs, next, tostring, error, setmetatable, getmetatable, rawget, sort =
  type, pairs, ipairs, next, tostring, error, setmetatable, getmetatable, rawget, table.sort
local null, empty_array = cjson.null, cjson.empty_array

local KNOWN_OPERATORS = '$eq $ne $gt $gte $lt $lte $in $nin $all $exists $regex $options $not $and $or'
local KNOWN_OPERATIONS = 'eq neq gt gte lt lte reg is isnot has and or sort limit fields inc'

local Invalid = {}
local function invalid(fmt, ...)
  error(setmetatable({ message = fmt:format(...) }, Invalid), 0)
end

-- ---- values ----

local function isArray(t)
  return type(t) == 'table' and (#t > 0 or getmetatable(t) == nil and next(t) == nil)
end

-- A list for JSON: [] when empty (an empty Lua table would be {}).
local function list(t)
  if #t == 0 then return empty_array end
  return t
end

-- ---- filter tables ----

local convertQuery

local function isOperatorObject(v)
  if type(v) ~= 'table' or v == null or getmetatable(v) ~= nil then return false end
  local ops, fields = false, false
  for k in pairs(v) do
    if type(k) == 'string' and k:sub(1, 1) == '$' then ops = true else fields = true end
  end
  if ops and fields then
    invalid("an operator object mixes operators and fields")
  end
  return ops
end

local VALUE_OPS = { ['$eq'] = true, ['$ne'] = true, ['$gt'] = true, ['$gte'] = true,
  ['$lt'] = true, ['$lte'] = true }
local LIST_OPS = { ['$in'] = true, ['$nin'] = true, ['$all'] = true }

-- A field's operator object, checked.
local function convertOps(field, ops)
  local out = {}
  for op, v in pairs(ops) do
    if VALUE_OPS[op] then
      if v == nil then invalid("%s on '%s' takes a value", op, field) end
      out[op] = v
    elseif LIST_OPS[op] then
      if v == empty_array then v = {} end
      if type(v) ~= 'table' or not isArray(v) then
        invalid("%s on '%s' takes an array of values", op, field)
      end
      out[op] = list(v)
    elseif op == '$exists' then
      if type(v) ~= 'boolean' then invalid("$exists on '%s' takes true or false", field) end
      out[op] = v
    elseif op == '$regex' then
      if type(v) ~= 'string' then invalid("$regex on '%s' takes a string", field) end
      out[op] = v
    elseif op == '$options' then
      if type(v) ~= 'string' or v:find('[^imsx]') then
        invalid("$options on '%s' takes the letters i, m, s and x", field)
      end
      if ops['$regex'] == nil then invalid("$options on '%s' without $regex", field) end
      out[op] = v
    elseif op == '$not' then
      if not isOperatorObject(v) then invalid("$not on '%s' takes an operator object", field) end
      out[op] = convertOps(field, v)
    else
      invalid("unknown operator '%s' (known: %s)", tostring(op), KNOWN_OPERATORS)
    end
  end
  return out
end

local function checkField(k)
  if type(k) ~= 'string' or k == '' then
    invalid("a filter's keys are field names or $and/$or, not %s", tostring(k))
  end
end

-- A list of sub-queries ($and, $or, and(), or()).
local function convertList(op, subs, depth)
  if type(subs) ~= 'table' or subs == null or #subs == 0 then
    invalid("%s takes a non-empty array of queries", op)
  end
  local out = {}
  for i = 1, #subs do out[i] = convertQuery(subs[i], nil, depth + 1) end
  return out
end

local function convertFilter(f, depth)
  local out = {}
  for k, v in pairs(f) do
    if k == '$and' or k == '$or' then
      out[k] = convertList(k, v, depth)
    else
      checkField(k)
      if k:sub(1, 1) == '$' then
        invalid("unknown operator '%s' (known: %s)", k, KNOWN_OPERATORS)
      elseif isOperatorObject(v) then
        out[k] = convertOps(k, v)
      else
        out[k] = { ['$eq'] = v }
      end
    end
  end
  return out
end

-- ---- builder queries ----

local function isBuilder(q)
  if type(q) ~= 'table' or q == null then return false end
  local mt = getmetatable(q)
  if mt and rawget(mt, '__lustyQuery') then return true end
  -- rawget: the original builder's __index answers any key (with itself).
  local first = rawget(q, 1)
  return type(first) == 'table' and type(first.operation) == 'string'
end

local SIMPLE = { eq = '$eq', neq = '$ne', gt = '$gt', gte = '$gte', lt = '$lt', lte = '$lte' }
local LISTS = { is = '$in', isnot = '$nin', has = '$all' }

-- The sort of a builder clause or of get's meta, as [[field, 1|-1], ...].
local function convertSort(s)
  local out = {}
  local function add(field, dir)
    if dir == 'asc' then dir = 1 elseif dir == 'desc' then dir = -1 end
    if type(field) ~= 'string' or (dir ~= 1 and dir ~= -1) then
      invalid("sort takes { field = 1 | -1 } or an array of such pairs")
    end
    out[#out + 1] = { field, dir }
  end
  -- A table's keys have no order: they are taken by name.
  local function addByName(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do add(k, t[k]) end
  end
  if type(s) == 'string' then
    add(s, 1)
  elseif type(s) ~= 'table' then
    invalid("sort takes { field = 1 | -1 } or an array of such pairs")
  elseif #s > 0 then
    for _, pair in ipairs(s) do
      if type(pair) == 'table' and pair[1] ~= nil then
        add(pair[1], pair[2])
      elseif type(pair) == 'table' then
        addByName(pair)
      else
        add(pair, 1)
      end
    end
  else
    addByName(s)
  end
  return out
end

local function convertFields(f)
  if type(f) ~= 'table' then invalid("fields takes an array of field names") end
  local out = {}
  if #f > 0 then
    for i, name in ipairs(f) do
      if type(name) ~= 'string' then invalid("fields takes an array of field names") end
      out[i] = name
    end
  else
    for name, on in pairs(f) do
      if type(name) ~= 'string' then invalid("fields takes an array of field names") end
      if on and on ~= 0 then out[#out + 1] = name end
    end
    sort(out)
  end
  return out
end

-- limit(n), limit({ offset = n, length = m }) into meta.
local function convertLimit(meta, l, offset)
  if type(l) == 'number' then
    meta.limit = l
    if type(offset) == 'number' then meta.offset = offset end
  elseif type(l) == 'table' then
    meta.offset = l.offset or l[1]
    meta.limit = l.length or l.limit or l[2]
  else
    invalid("limit takes a number or { offset = n, length = m }")
  end
  for _, k in ipairs({ 'offset', 'limit' }) do
    local n = meta[k]
    if n ~= nil and (type(n) ~= 'number' or n < 0 or n % 1 ~= 0) then
      invalid("limit: %s must be an integer, 0 or more", k == 'limit' and 'length' or k)
    end
  end
end

-- A '/pattern/flags' string as a $regex operator object.
local function regex(s)
  if type(s) ~= 'string' then invalid("reg takes '/pattern/flags' strings") end
  local pattern, flags = s:match('^/(.*)/([a-z]*)$')
  if not pattern then pattern, flags = s, '' end
  if flags:find('[^imsx]') then invalid("reg: the flags of '%s' are not among i, m, s and x", s) end
  local op = { ['$regex'] = pattern }
  if flags ~= '' then op['$options'] = flags end
  return op
end

local function convertBuilder(q, meta, depth)
  local parts = {}
  for i = 1, #q do
    local c = q[i]
    if type(c) ~= 'table' or type(c.operation) ~= 'string' then
      invalid("a builder query is an array of { field, operation, arguments } clauses")
    end
    local op, field, a = c.operation, c.field, c.arguments
    if type(a) ~= 'table' then a = {} end
    local needsField = SIMPLE[op] or LISTS[op] or op == 'reg' or op == 'inc'
    if needsField and (type(field) ~= 'string' or field == '') then
      invalid("the %s clause has no field", op)
    end
    if SIMPLE[op] then
      local v = a[1]
      if v == nil then v = null end
      parts[#parts + 1] = { [field] = { [SIMPLE[op]] = v } }
    elseif LISTS[op] then
      local values = a
      -- is({ 'a', 'b' }) is is('a', 'b').
      if #a == 1 and type(a[1]) == 'table' and a[1] ~= null and #a[1] > 0 then values = a[1] end
      local copy = {}
      for j = 1, #values do copy[j] = values[j] end
      parts[#parts + 1] = { [field] = { [LISTS[op]] = list(copy) } }
    elseif op == 'reg' then
      if #a == 0 then invalid("reg on '%s' takes '/pattern/flags' strings", field) end
      if #a == 1 then
        parts[#parts + 1] = { [field] = regex(a[1]) }
      else
        local any = {}
        for j = 1, #a do any[j] = { [field] = regex(a[j]) } end
        parts[#parts + 1] = { ['$or'] = any }
      end
    elseif op == 'and' or op == 'or' then
      parts[#parts + 1] = { ['$' .. op] = convertList(op, a, depth) }
    elseif op == 'sort' then
      meta.sort = convertSort(a[1])
    elseif op == 'limit' then
      convertLimit(meta, a[1], a[2])
    elseif op == 'fields' then
      meta.fields = convertFields(type(a[1]) == 'table' and a[1] or a)
    elseif op == 'inc' then
      local n = a[1] == nil and 1 or a[1]
      if type(n) ~= 'number' then invalid("inc on '%s' takes a number", field) end
      meta.inc = meta.inc or {}
      meta.inc[field] = (meta.inc[field] or 0) + n
    else
      invalid("unknown query operation '%s' (known: %s)", op, KNOWN_OPERATIONS)
    end
  end
  if #parts == 0 then return {} end
  if #parts == 1 then return parts[1] end
  return { ['$and'] = parts }
end

-- Either form of query as a filter; a builder's modifiers go into meta
-- (nil for sub-queries, where they mean nothing).
function convertQuery(q, meta, depth)
  depth = depth or 0
  if depth > 32 then invalid("the query nests too deep") end
  if q == nil or q == null then return {} end
  if type(q) ~= 'table' then
    invalid("a query is a table (a filter or a builder query), not a %s", type(q))
  end
  if isBuilder(q) then return convertBuilder(q, meta or {}, depth) end
  return convertFilter(q, depth)
end

-- ---- documents ----

local function checkDoc(doc, what)
  if type(doc) ~= 'table' or doc == null or isBuilder(doc) or (#doc > 0) then
    invalid("%s takes a document (a table of fields)", what)
  end
  for k in pairs(doc) do
    if type(k) ~= 'string' then invalid("a document's keys are strings, not %s", tostring(k)) end
    if k:sub(1, 1) == '$' then invalid("a document's field cannot start with '$' ('%s')", k) end
  end
  return doc
end

-- patch's fields: plain fields (dotted paths allowed), or MongoDB's
-- { $set = {...}, $inc = {...} }.
local function patchFields(data, op)
  if data == nil or data == null then return end
  if type(data) ~= 'table' then invalid("patch takes a table of fields to set") end
  local set = {}
  for k, v in pairs(data) do
    if k == '$set' then
      for f, x in pairs(checkDoc(v, '$set')) do set[f] = x end
    elseif k == '$inc' then
      if type(v) ~= 'table' then invalid("$inc takes a table of numbers") end
      op.inc = op.inc or {}
      for f, n in pairs(v) do
        if type(f) ~= 'string' or type(n) ~= 'number' then invalid("$inc takes a table of numbers") end
        op.inc[f] = (op.inc[f] or 0) + n
      end
    elseif type(k) == 'string' and k:sub(1, 1) == '$' then
      invalid("unknown update operator '%s' (known: $set, $inc)", k)
    elseif type(k) ~= 'string' or k == '' then
      invalid("patch's keys are field names, not %s", tostring(k))
    else
      set[k] = v
    end
  end
  for f in pairs(set) do
    if f == '_id' or f:sub(1, 4) == '_id.' then invalid("_id cannot be changed") end
  end
  op.doc = set
end

-- The canonical operation of a payload.
local function make(method, collection, query, data)
  local op = { collection = collection, method = method }
  local meta = {}
  if method == 'post' then
    local doc = query
    if doc == nil or doc == null then doc = data end
    op.doc = checkDoc(doc, 'post')
  else
    op.filter = convertQuery(query, meta)
    if method == 'put' then
      op.doc = checkDoc(data, 'put')
    elseif method == 'patch' then
      patchFields(data, op)
    elseif method == 'get' and type(data) == 'table' and data ~= null then
      if data.fields ~= nil then meta.fields = convertFields(data.fields) end
      if data.sort ~= nil then meta.sort = convertSort(data.sort) end
      if data.limit ~= nil then convertLimit(meta, data.limit, data.offset) end
      if data.offset ~= nil and data.limit == nil then convertLimit(meta, { offset = data.offset }) end
    end
  end
  if meta.inc then
    if method ~= 'patch' then invalid("inc is for patch, not %s", method) end
    op.inc = op.inc or {}
    for f, n in pairs(meta.inc) do op.inc[f] = (op.inc[f] or 0) + n end
  end
  if method == 'get' then
    if meta.sort and #meta.sort > 0 then op.sort = meta.sort end
    if meta.fields and #meta.fields > 0 then op.fields = meta.fields end
    op.offset, op.limit = meta.offset, meta.limit
  end
  if method == 'patch' and op.doc == nil and op.inc == nil then
    invalid("patch takes fields to set or numbers to add")
  end
  return op
end

return { make = make, Invalid = Invalid }
