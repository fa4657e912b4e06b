local http = require "http"
local shortport = require "shortport"

description = [[
campus-audit (issue #16): asks the service on the Elasticsearch ports (9200, 9201) for HEAD / once,
without credentials, and prints the HTTP status and the product and content-type headers. It sends
no password; a 401 means the service asks for one. nmap's http-headers does not run there, since
service detection at intensity 0 does not recognise HTTP on 9200.
]]

categories = {"safe", "discovery"}

portrule = shortport.portnumber({9200, 9201}, "tcp", "open")

action = function(host, port)
  local r = http.head(host, port, "/")
  if not r or not r.status then
    return "no HTTP answer"
  end
  local h = r.header or {}
  return ("status %s; x-elastic-product %s; content-type %s"):format(
    r.status, h["x-elastic-product"] or "-", h["content-type"] or "-")
end
