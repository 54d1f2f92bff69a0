return { name = "loop", shapes = (function() local s = {} while true do s[#s+1] = 1 end end)() }
