-- Seed-style module config: each channel is served by one function,
-- written "<module>#<function>". Listed in `modules` of app/config.lua.
return {
  events = {
    ['data:users:list'] = 'data.users.handlers#list',
    ['data:users:get'] = 'data.users.handlers#get',
    ['data:users:create'] = 'data.users.handlers#create',
  },
}
