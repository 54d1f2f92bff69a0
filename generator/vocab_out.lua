-- vocab_out.lua: vocab.lua -> the files the rest of the project reads it from, as
-- { [path relative to the repository root] = text }: runtime/bmm_vocab.h (the runtime, the
-- generated kernels and vendored pairs), python/bmmgen/_vocab.py, cmake/BmmVocab.cmake, and
-- the tables between "<!-- vocab:NAME -->" and "<!-- /vocab:NAME -->" in docs (read(path)
-- gives a doc's current text; only the marked regions change). Pure: writes nothing.
local util = require("util")
local vocab = require("vocab")
local template = require("template")

local M = {}

-- C string literal of a word (words are plain identifiers and punctuation).
local function cstr(s) return '"' .. s .. '"' end

-- Words indexed by enum value from `first` (0 or 1) to the largest, `hole` where no entry.
local function by_value(list, first, field, hole)
  local out, max = {}, first
  for _, e in ipairs(list) do if e.value > max then max = e.value end end
  for v = first, max do out[#out + 1] = hole end
  for _, e in ipairs(list) do out[e.value - first + 1] = e[field] end
  return out
end

local function cwords(list)
  local q = {}
  for i, w in ipairs(list) do q[i] = type(w) == "string" and cstr(w) or util.cint(w) end
  return "{ " .. table.concat(q, ", ") .. " }"
end

local function enum_block(list, count, comment_of)
  local lines = {}
  for _, e in ipairs(list) do
    lines[#lines + 1] = "    " .. e.enum .. " = " .. util.cint(e.value) .. ",  /* " .. comment_of(e) .. " */"
  end
  if count then lines[#lines + 1] = "    " .. count end
  return table.concat(lines, "\n")
end

local function public_form(e) return (e.enum:gsub("^BMM_FORM_", ""):lower()) end

-- The word of an alpha/beta form in Python's Kernel.scalars: "alpha=1,beta=0".
local function scalars_text(e)
  local function one(name)
    local v = e.fixes[name]
    return v and name .. "=" .. util.cint(v) or name
  end
  return one("alpha") .. "," .. one("beta")
end

local function header(T, banner)
  local lay_words = by_value(vocab.layouts, 0, "word", "?")
  lay_words[1] = "x"  -- 0: a call operand of no kernel layout class (wisdom files spell it so)
  local targets, scalar_rows, grains = {}, {}, {}
  for _, e in ipairs(vocab.isas) do
    if e.target then
      targets[#targets + 1] = "#define BMM_TARGET_" .. e.word:upper() .. "_FEATURES " .. cstr(e.target)
    end
  end
  for _, e in ipairs(vocab.scalars) do
    local a, b = e.fixes.alpha, e.fixes.beta
    scalar_rows[#scalar_rows + 1] = "    /* " .. e.enum .. " */ { " .. cstr(e.word) .. ", "
      .. (a and "1" or "0") .. ", " .. (b and "1" or "0") .. ", "
      .. util.cfloat(a or 0) .. ", " .. util.cfloat(b or 0) .. " }, \\"
  end
  for _, e in ipairs(vocab.forms) do
    if e.grain then grains[#grains + 1] = "    case " .. e.enum .. ": return " .. e.grain .. ";" end
  end
  local elem_bytes, eps, round, types, halves, kernels = {}, {}, {}, {}, {}, {}
  for _, e in ipairs(vocab.dtypes) do
    local widths = true  -- the generator makes kernels of a dtype every ISA has a width for
    for _, i in ipairs(vocab.isas) do widths = widths and i.width[e.word] ~= nil end
    if widths then kernels[#kernels + 1] = "dtype == " .. util.cint(e.value) .. " ||" end
    if e.mant then
      halves[#halves + 1] = " \\\n    X(" .. table.concat({ util.cint(e.value), e.word, e.ctype, e.blas,
        util.cint(e.mant), util.cint(e.exp) }, ", ") .. ")"
    else
      types[#types + 1] = " \\\n    X(" .. table.concat({ util.cint(e.value), e.word, e.ctype, e.blas }, ", ") .. ")"
    end
    local is = "dtype == " .. util.cint(e.value) .. " ? "
    elem_bytes[#elem_bytes + 1] = is .. util.cint(e.size) .. " :"
    eps[#eps + 1] = is .. string.format("%.17g", e.eps) .. " :"
    if e.acc ~= "double" then round[#round + 1] = is .. "(double)(" .. e.acc .. ")x :" end
  end
  local need_all = {}
  for _, e in ipairs(vocab.needs) do need_all[#need_all + 1] = e.enum end
  return template.fill(T("vocab.h.in"), {
    banner = banner,
    layouts = enum_block(vocab.layouts, "BMM_LAYOUT_COUNT", function(e) return e.word .. ": " .. e.doc end),
    isas = enum_block(vocab.isas, "BMM_ISA_COUNT", function(e) return e.word .. ": " .. e.cpu end),
    scalars = enum_block(vocab.scalars, "BMM_SCALARS_COUNT", function(e) return e.word .. ": " .. e.doc end),
    forms = enum_block(vocab.forms, "BMM_FORM_COUNT", function(e) return e.tag .. ": " .. e.doc end),
    needs = enum_block(vocab.needs, "BMM_NEEDS_ALL = " .. table.concat(need_all, " | "),
      function(e) return e.doc end),
    targets = table.concat(targets, "\n"),
    dtype_words = cwords(by_value(vocab.dtypes, 0, "word", "?")),
    elem_bytes = table.concat(elem_bytes, " "), dtype_eps = table.concat(eps, " "),
    scalar_round = table.concat(round, " "), dtype_types = table.concat(types),
    dtype_halves = table.concat(halves), dtype_kernels = table.concat(kernels, " "),
    layout_words = cwords(lay_words),
    isa_words = cwords(by_value(vocab.isas, 0, "word", "?")),
    scalars_words = cwords(by_value(vocab.scalars, 0, "word", "?")),
    regime_words = cwords(vocab.regimes), thread_words = cwords(vocab.thread_classes),
    scalar_forms = table.concat(scalar_rows, "\n"),
    grains = table.concat(grains, "\n"), max_dim = util.cint(vocab.max_dim),
  }) .. "\n"
end

local function python(T, banner)
  local function dict(list, key, val)
    local items = {}
    for _, e in ipairs(list) do
      items[#items + 1] = util.cint(e[key]) .. ": " .. string.format("%q", val(e))
    end
    return "{" .. table.concat(items, ", ") .. "}"
  end
  local dts = {}
  local function name(v) return v and string.format("%q", v) or "None" end
  for _, e in ipairs(vocab.dtypes) do
    dts[#dts + 1] = string.format("    %s: (%q, %s, %s, %s),", util.cint(e.value), e.word,
      util.cint(e.size), name(e.numpy), name(e.torch))
  end
  return template.fill(T("vocab.py.in"), {
    banner = banner,
    dtypes = table.concat(dts, "\n"),
    layouts = dict(vocab.layouts, "value", function(e) return e.word end),
    isas = dict(vocab.isas, "value", function(e) return e.word end),
    forms = dict(vocab.forms, "value", public_form),
    scalars = dict(vocab.scalars, "value", scalars_text),
    orders = (function()
      local items = {}
      for _, e in ipairs(vocab.orders) do
        local bits = 0
        for _, w in ipairs(e.needs) do bits = bits + vocab.need[w].value end
        items[#items + 1] = util.cint(bits) .. ": " .. string.format("%q", e.word)
      end
      return "{" .. table.concat(items, ", ") .. "}"
    end)(),
  }) .. "\n"
end

local function cmake(T, banner)
  local isas, vec = {}, {}
  for _, e in ipairs(vocab.isas) do
    isas[#isas + 1] = e.word
    if e.target then vec[#vec + 1] = e.word end
  end
  local dts = {}
  for _, e in ipairs(vocab.dtypes) do dts[#dts + 1] = e.word end
  return template.fill(T("vocab.cmake.in"), {
    banner = banner, isas = table.concat(isas, " "), vector_isas = table.concat(vec, " "),
    dtypes = table.concat(dts, " "),
  }) .. "\n"
end

-- Markdown tables of the docs, by marker name.
local TABLES = {
  forms = function()
    local rows = { "| form | name part | ISAs | what |", "| --- | --- | --- | --- |" }
    for _, e in ipairs(vocab.forms) do
      local needs = {}
      for i, w in ipairs(e.needs or {}) do needs[i] = "`" .. vocab.need[w].enum .. "`" end
      rows[#rows + 1] = "| `" .. e.enum .. "` | `" .. e.tag .. "` | " .. e.isas .. " | " .. e.detail
        .. (#needs > 0 and "; needs " .. table.concat(needs, ", ") or "") .. " |"
    end
    return table.concat(rows, "\n")
  end,
  isas = function()
    local rows = { "| ISA | enum | lanes f32 / f64 | target attribute | admitted when the CPU has |",
      "| --- | --- | --- | --- | --- |" }
    for _, e in ipairs(vocab.isas) do
      rows[#rows + 1] = "| `" .. e.word .. "` | `" .. e.enum .. "` | " .. util.cint(e.width.f32) .. " / "
        .. util.cint(e.width.f64) .. " | " .. (e.target and "`" .. e.target .. "`" or "none") .. " | " .. e.cpu .. " |"
    end
    return table.concat(rows, "\n")
  end,
  words = function()
    local rows = { "| kind | words (enum order) |", "| --- | --- |" }
    local function line(kind, list, field)
      local w = {}
      for i, e in ipairs(list) do w[i] = "`" .. (field and e[field] or e) .. "`" end
      rows[#rows + 1] = "| " .. kind .. " | " .. table.concat(w, ", ") .. " |"
    end
    line("dtype", vocab.dtypes, "word"); line("layout class", vocab.layouts, "word")
    line("ISA", vocab.isas, "word"); line("alpha/beta form", vocab.scalars, "word")
    line("form", vocab.forms, "kind"); line("need", vocab.needs, "word")
    line("regime", vocab.regimes); line("thread class", vocab.thread_classes)
    return table.concat(rows, "\n")
  end,
}

-- The docs whose marked regions are regenerated.
M.DOCS = { "docs/kernel-abi.md", "docs/howto.md" }

-- text with each "<!-- vocab:NAME -->...<!-- /vocab:NAME -->" region refilled; an unknown NAME
-- or an unclosed region is an error naming the file and line.
local function refill(path, text)
  local out, pos = {}, 1
  while true do
    local s, e, name = text:find("<!%-%- vocab:([%w_]+) %-%->\n", pos)
    if not s then break end
    local line = select(2, text:sub(1, s):gsub("\n", "")) + 1
    local gen = TABLES[name] or error(path .. ":" .. util.cint(line) .. ": error: unknown vocab table \"" .. name .. "\"", 0)
    local close = "<!-- /vocab:" .. name .. " -->"
    local cs = text:find(close, e + 1, true)
    if not cs then error(path .. ":" .. util.cint(line) .. ": error: no " .. close, 0) end
    out[#out + 1] = text:sub(pos, e) .. gen() .. "\n"
    pos = cs
  end
  out[#out + 1] = text:sub(pos)
  return table.concat(out)
end

-- tdir: the template folder; read(path): a doc's current text (nil: not there, skipped);
-- command: the command line for the banners.
function M.files(tdir, read, command)
  local T = function(name) return template.load(tdir, name) end
  local banner = template.fill(T("vocab_banner.txt.in"), { command = command })
  local function comment(prefix)
    return (prefix .. banner:gsub("\n", "\n" .. prefix)):gsub(" +\n", "\n")
  end
  local files = {
    ["runtime/bmm_vocab.h"] = header(T, "/*\n" .. comment(" * ") .. "\n */"),
    ["python/bmmgen/_vocab.py"] = python(T, comment("# ")),
    ["cmake/BmmVocab.cmake"] = cmake(T, comment("# ")),
  }
  -- bmm.h spells the public dtype enum itself (its readers need no generated header)
  local bmm_h = read("runtime/bmm.h") or ""
  for _, e in ipairs(vocab.dtypes) do
    if not bmm_h:find(e.enum .. " = " .. util.cint(e.value), 1, true) then
      error("runtime/bmm.h:0: error: bmm_dtype lacks " .. e.enum .. " = " .. util.cint(e.value)
        .. " (generator/vocab.lua defines it)", 0)
    end
  end
  for _, path in ipairs(M.DOCS) do
    local text = read(path)
    if text then files[path] = refill(path, text) end
  end
  return files
end

return M
