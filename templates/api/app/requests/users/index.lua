-- GET /users   the list of users
-- POST /users  add a user from a JSON body: { "name": "...", "email": "..." }
local event = context.lusty.event
local method = context.request.method

if method == 'GET' then
  -- Exactly one handler answers data:users:list; its result comes first.
  context.response.status = 200
  context.output = event:publish('data:users:list')[1]

elseif method == 'POST' then
  -- lusty.json.input has decoded the body into context.input (left empty
  -- when the body is not JSON; any JSON value when it is).
  local input = context.input
  if type(input) ~= 'table' or type(input.name) ~= 'string' or input.name == '' then
    context.response.status = 400
    context.output = { error = 'bad request', message = 'expected a JSON object with a non-empty "name"' }
    return
  end
  if input.email ~= nil and type(input.email) ~= 'string' then
    context.response.status = 400
    context.output = { error = 'bad request', message = '"email" must be a string' }
    return
  end

  -- Pass on only the fields the store knows, never the whole input.
  local user = event:publish('data:users:create', { name = input.name, email = input.email })[1]
  context.log('created user ' .. user.id, 'info')
  context.response.status = 201
  context.response.headers['location'] = '/users/' .. user.id
  context.output = user

else
  context.response.status = 405
  context.response.headers['allow'] = 'GET, POST'
  context.output = { error = 'method not allowed' }
end
