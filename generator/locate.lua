-- locate.lua: spec source text -> line of each field, so errors can say "spec.lua:12".
-- A spec is Lua, so values are found by running it; this only maps table fields of the
-- returned constructor to the lines they start on. Anything it cannot map falls back to
-- the nearest enclosing field it could.
local M = {}

local function lex(src)
  local toks, i, line, n = {}, 1, 1, #src
  local function push(v, kind) toks[#toks + 1] = { v = v, kind = kind, line = line } end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1; i = i + 1
    elseif c:match("%s") then
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local eq = src:match("^%[(=*)%[", i + 2)
      if eq then
        local close = src:find("]" .. eq .. "]", i, true) or n
        for _ in src:sub(i, close):gmatch("\n") do line = line + 1 end
        i = close + #eq + 2
      else
        i = (src:find("\n", i, true) or n + 1)
      end
    elseif c == '"' or c == "'" then
      local j, start = i + 1, line
      while j <= n and src:sub(j, j) ~= c do
        if src:sub(j, j) == "\\" then j = j + 1 end
        if src:sub(j, j) == "\n" then line = line + 1 end
        j = j + 1
      end
      toks[#toks + 1] = { v = "string", kind = "value", line = start }
      i = j + 1
    elseif src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local close = src:find("]" .. eq .. "]", i, true) or n
      push("string", "value")
      for _ in src:sub(i, close):gmatch("\n") do line = line + 1 end
      i = close + #eq + 2
    elseif c:match("[%a_]") then
      local name = src:match("^[%w_]+", i)
      push(name, "name"); i = i + #name
    elseif c:match("%d") then
      local num = src:match("^[%w%.]+", i)
      push(num, "value"); i = i + #num
    else
      local two = src:sub(i, i + 1)
      if two == "==" or two == "~=" or two == "<=" or two == ">=" or two == ".." then
        push(two, "op"); i = i + 2
      else
        push(c, "op"); i = i + 1
      end
    end
  end
  toks[#toks + 1] = { v = "<eof>", kind = "eof", line = line }
  return toks
end

-- Parse the constructor starting at toks[i] == "{"; returns node, index after "}".
local function parse_table(toks, i)
  local node = { line = toks[i].line, fields = {} }
  i = i + 1
  local pos = 0
  while toks[i].kind ~= "eof" and toks[i].v ~= "}" do
    local key
    if toks[i].kind == "name" and toks[i + 1].v == "=" then
      key = toks[i].v; i = i + 2
    elseif toks[i].v == "[" then
      local depth = 0
      repeat
        if toks[i].v == "[" then depth = depth + 1 elseif toks[i].v == "]" then depth = depth - 1 end
        i = i + 1
      until depth == 0 or toks[i].kind == "eof"
      if toks[i].v == "=" then i = i + 1 end
    else
      pos = pos + 1; key = pos
    end
    local entry = { line = toks[i].line }
    if toks[i].v == "{" then
      entry.sub, i = parse_table(toks, i)
    end
    -- skip the rest of the value expression
    local depth = 0
    while toks[i].kind ~= "eof" do
      local v = toks[i].v
      if depth == 0 and (v == "," or v == ";" or v == "}") then break end
      if v == "{" or v == "(" or v == "[" then depth = depth + 1 end
      if v == "}" or v == ")" or v == "]" then depth = depth - 1 end
      i = i + 1
    end
    if key ~= nil then node.fields[key] = entry end
    if toks[i].v == "," or toks[i].v == ";" then i = i + 1 end
  end
  return node, i + 1
end

-- Returns a function line_of(path) for a list path such as {"shapes", 3}.
function M.index(src)
  local toks = lex(src)
  local root
  for i = 1, #toks - 1 do
    if toks[i].v == "return" and toks[i + 1].v == "{" then
      root = parse_table(toks, i + 1)
      break
    end
  end
  return function(path)
    local node, line = root, root and root.line or 1
    for _, key in ipairs(path) do
      local f = node and node.fields[key]
      if not f then break end
      line = f.line
      node = f.sub
    end
    return line
  end
end

return M
