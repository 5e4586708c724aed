-- GET /boom  (a deliberate failure, to show the 500 page)
--
-- The error is caught by the request pipeline and recorded in
-- context.error; lusty.error.status then runs the app's 500 route.
-- Delete this file and its pattern in app/config.lua when you no longer
-- need the demonstration.
error('boom: this route fails on purpose')
