#!lua name=fip
--[[
fip allocation functions (Redis Functions, Redis >= 7.0). Loaded by fip.store.redis_store with
FUNCTION LOAD REPLACE when missing or when fip_version differs (@VERSION@ is replaced by a hash
of this file at load time).

Every function touches ONE subnet. KEYS[1] is always the subnet's meta key "fip:{<subnet>}:meta";
the other keys of the subnet are derived from it and share its hash tag, so they live in the same
Redis Cluster slot:
  fip:{s}:meta     hash  def (subnet JSON), ver (def version), gen (allocation generation; ""
                         = allocation refused), total, alloc (allocated+bound), resv, seq
                         (bumped by every change), ci/co (cursor: interval index, offset), niv
  fip:{s}:iv       hash  interval index -> "<start hex>:<length>" (allocatable intervals)
  fip:{s}:ip       hash  ip hex -> record JSON [owner,state,policy,pod_name,pod_uid,node,pool,
                         created_at,updated_at] (all strings)
  fip:{s}:uid      hash  pod UID -> ip hex
  fip:{s}:rec      set   recycled (released) ip hex, handed out after the cursor is exhausted
  fip:{s}:sres     set   the subnet's reserved ip hex (never recycled: requestable only)
  fip:{s}:pool     hash  pool name -> "<size>|<ns1,ns2,...>"
  fip:{s}:pused    hash  pool name -> IPs counted against the pool
  fip:{s}:o:<owner>    set  ip hex held by the owner
  fip:{s}:r:<owner>    set  ip hex reserved for the owner
  fip:{s}:w:<workload> set  owner keys (with instance) of the workload that hold IPs here
IPs are fixed-width lowercase hex (8 digits IPv4, 32 IPv6), so Lua never needs 128-bit numbers.
Replies are arrays whose first element is a status word; a refusal writes nothing except
moving the cursor past held addresses (invisible to readers).
]]

local VERSION = '@VERSION@'
local POW48 = 281474976710656

-- This server process's run id, read once per Lua VM (INFO costs ~9 us; the cached read ~0).
-- A restart, a promoted replica or a FUNCTION LOAD starts a new VM, so the cache never outlives
-- the process it describes. The meta field `rid` holds the run id the subnet's state was last
-- verified on (stamped by set_gen with a generation, i.e. by initialise / finish_rebuild, and
-- by put_subnet for a new subnet); allocate refuses while it differs: a restart or failover
-- may have dropped the last acknowledged writes, and only a rebuild from Kubernetes (or an
-- operator's `fipctl init --accept-server`) vouches for the state again.
local rid = nil
local function run_id()
  if not rid then rid = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or '' end
  return rid
end

local function prefix(meta)
  return string.sub(meta, 1, -5)
end

-- add a small count (< 2^52) to a fixed-width hex number
local function hexadd(h, n)
  local w = #h
  if w <= 12 then
    return string.format('%0' .. w .. 'x', tonumber(h, 16) + n)
  end
  local head = string.sub(h, 1, w - 12)
  local s = tonumber(string.sub(h, w - 11), 16) + n
  local carry = math.floor(s / POW48)
  s = s - carry * POW48
  local i = #head
  while carry > 0 and i > 0 do
    local d = tonumber(string.sub(head, i, i), 16) + carry
    carry = math.floor(d / 16)
    head = string.sub(head, 1, i - 1) .. string.format('%x', d % 16) .. string.sub(head, i + 1)
    i = i - 1
  end
  return head .. string.format('%012x', s)
end

local function workload(owner)
  local a, b, c, d = string.match(owner, '^([^/]+)/([^/]+)/([^/]+)/([^/]+)$')
  if d then return a .. '/' .. b .. '/' .. c end
  return nil
end

-- write record r (a table) at hex, maintaining indexes and counters (no previous record)
local function put(p, hex, r)
  redis.call('HSET', p .. 'ip', hex, cjson.encode(r))
  if r[5] ~= '' then redis.call('HSET', p .. 'uid', r[5], hex) end
  redis.call('SADD', p .. 'o:' .. r[1], hex)
  local w = workload(r[1])
  if w then redis.call('SADD', p .. 'w:' .. w, r[1]) end
  if r[2] == 'reserved' then
    redis.call('SADD', p .. 'r:' .. r[1], hex)
    redis.call('HINCRBY', p .. 'meta', 'resv', 1)
  else
    redis.call('HINCRBY', p .. 'meta', 'alloc', 1)
  end
  if r[7] ~= '' then redis.call('HINCRBY', p .. 'pused', r[7], 1) end
  redis.call('HINCRBY', p .. 'meta', 'seq', 1)
end

-- remove record r at hex, maintaining indexes and counters
local function drop(p, hex, r)
  redis.call('HDEL', p .. 'ip', hex)
  if r[5] ~= '' and redis.call('HGET', p .. 'uid', r[5]) == hex then redis.call('HDEL', p .. 'uid', r[5]) end
  redis.call('SREM', p .. 'o:' .. r[1], hex)
  local w = workload(r[1])
  if w and redis.call('SCARD', p .. 'o:' .. r[1]) == 0 then redis.call('SREM', p .. 'w:' .. w, r[1]) end
  if r[2] == 'reserved' then
    redis.call('SREM', p .. 'r:' .. r[1], hex)
    redis.call('HINCRBY', p .. 'meta', 'resv', -1)
  else
    redis.call('HINCRBY', p .. 'meta', 'alloc', -1)
  end
  if r[7] ~= '' then redis.call('HINCRBY', p .. 'pused', r[7], -1) end
  redis.call('HINCRBY', p .. 'meta', 'seq', 1)
end

local function getrec(p, hex)
  local raw = redis.call('HGET', p .. 'ip', hex)
  if not raw then return nil, nil end
  return cjson.decode(raw), raw
end

-- next never-used address from the cursor, skipping held ones; nil when exhausted
local function next_fresh(p)
  local m = redis.call('HMGET', p .. 'meta', 'ci', 'co', 'niv')
  local ci, co, niv = tonumber(m[1]), tonumber(m[2]), tonumber(m[3])
  local found = nil
  while ci < niv do
    local iv = redis.call('HGET', p .. 'iv', tostring(ci))
    local start, len = string.match(iv, '^(%x+):(%d+)$')
    len = tonumber(len)
    if co >= len then
      ci, co = ci + 1, 0
    else
      local hex = hexadd(start, co)
      co = co + 1
      if redis.call('HEXISTS', p .. 'ip', hex) == 0 then
        redis.call('SREM', p .. 'rec', hex)
        found = hex
        break
      end
    end
  end
  if ci ~= tonumber(m[1]) or co ~= tonumber(m[2]) then redis.call('HSET', p .. 'meta', 'ci', ci, 'co', co) end
  return found
end

local function next_recycled(p)
  while true do
    local hex = redis.call('SPOP', p .. 'rec')
    if not hex then return nil end
    if redis.call('HEXISTS', p .. 'ip', hex) == 0 then return hex end
  end
end

-- fip_allocate: hand out one IP (see fip.store.protocol.AllocateRequest for the order)
-- KEYS[1] subnet meta key
-- ARGV owner, pod_uid, pod_name, node, policy, now, requested hex ("" = any, "!" = the caller
--      found it not requestable), pool ("" = none), namespace, def version the caller
--      validated `requested` against
-- reply {"OK", hex, record} | {"UNKNOWN"} | {"LOST"} | {"NEWSERVER"} | {"UIDELSE", hex, record}
--       | {"NOPOOL"}
--       | {"FORBIDDEN", "ns1,ns2"} | {"POOLFULL", used, size} | {"STALEDEF"}
--       | {"BADREQ"} | {"TAKEN", hex, record} | {"NOFREE", alloc, resv, total}
local function allocate(keys, args)
  local p = prefix(keys[1])
  local owner, uid, podname, node, policy, now = args[1], args[2], args[3], args[4], args[5], args[6]
  local req, pool, ns, ver = args[7], args[8], args[9], args[10]
  local m = redis.call('HMGET', keys[1], 'gen', 'ver', 'rid')
  if not m[2] then return {'UNKNOWN'} end
  if not m[1] or m[1] == '' then return {'LOST'} end
  if m[3] and m[3] ~= run_id() then return {'NEWSERVER'} end
  local held = redis.call('HGET', p .. 'uid', uid)
  if held then
    local r, raw = getrec(p, held)
    if r[1] ~= owner then return {'UIDELSE', held, raw} end
    return {'OK', held, raw}
  end
  local size = nil
  if pool ~= '' then
    local def = redis.call('HGET', p .. 'pool', pool)
    if not def then return {'NOPOOL'} end
    local sz, nslist = string.match(def, '^(%d+)|(.*)$')
    local ok = false
    for n in string.gmatch(nslist, '[^,]+') do
      if n == ns or n == '*' then ok = true end
    end
    if not ok then return {'FORBIDDEN', nslist} end
    size = tonumber(sz)
  end
  local rkey = p .. 'r:' .. owner
  local mine = nil
  if req ~= '' and redis.call('SISMEMBER', rkey, req) == 1 then
    mine = req
  else
    mine = redis.call('SRANDMEMBER', rkey)
  end
  if mine then
    local r = getrec(p, mine)
    drop(p, mine, r)
    r[2], r[3], r[4], r[5], r[6], r[9] = 'allocated', policy, podname, uid, node, now
    put(p, mine, r)
    return {'OK', mine, cjson.encode(r)}
  end
  if size then
    local used = tonumber(redis.call('HGET', p .. 'pused', pool) or '0')
    if used >= size then return {'POOLFULL', tostring(used), tostring(size)} end
  end
  local hex = nil
  if req ~= '' then
    if ver ~= m[2] then return {'STALEDEF'} end
    if req == '!' then return {'BADREQ'} end
    local _, raw = getrec(p, req)
    if raw then return {'TAKEN', req, raw} end
    redis.call('SREM', p .. 'rec', req)
    hex = req
  else
    hex = next_fresh(p) or next_recycled(p)
    if not hex then
      local c = redis.call('HMGET', keys[1], 'alloc', 'resv', 'total')
      return {'NOFREE', c[1], c[2], c[3]}
    end
  end
  local r = {owner, 'allocated', policy, podname, uid, node, pool, now, now}
  put(p, hex, r)
  return {'OK', hex, cjson.encode(r)}
end

-- fip_bind: mark the IP bound to the running pod on node
-- KEYS[1] meta; ARGV hex, pod_uid, node, now
-- reply {"OK", record} | {"STALE", record or ""}
local function bind(keys, args)
  local p = prefix(keys[1])
  local hex, uid, node, now = args[1], args[2], args[3], args[4]
  local r, raw = getrec(p, hex)
  if not r or uid == '' or r[5] ~= uid then return {'STALE', raw or ''} end
  if r[2] == 'bound' and r[6] == node then return {'OK', raw} end
  r[2], r[6], r[9] = 'bound', node, now
  local enc = cjson.encode(r)
  redis.call('HSET', p .. 'ip', hex, enc)
  redis.call('HINCRBY', keys[1], 'seq', 1)
  return {'OK', enc}
end

-- fip_reserve: return the IP to reserved for its owner (pod gone)
-- KEYS[1] meta; ARGV hex, owner, expected pod_uid, now
-- reply {"OK", record} | {"STALE", record or ""}
local function reserve(keys, args)
  local p = prefix(keys[1])
  local hex, owner, uid, now = args[1], args[2], args[3], args[4]
  local r, raw = getrec(p, hex)
  if not r or r[1] ~= owner then return {'STALE', raw or ''} end
  if r[2] == 'reserved' then return {'OK', raw} end
  if r[5] ~= uid then return {'STALE', raw} end
  drop(p, hex, r)
  r[2], r[5], r[6], r[9] = 'reserved', '', '', now
  put(p, hex, r)
  return {'OK', cjson.encode(r)}
end

-- fip_release: free the IP if owner and pod UID match (mode "check"), or whatever holds it
-- (mode "force")
-- KEYS[1] meta; ARGV hex, owner, expected pod_uid, mode
-- reply {"OK", record} | {"FREE"} | {"STALE", record}
local function release(keys, args)
  local p = prefix(keys[1])
  local hex, owner, uid, mode = args[1], args[2], args[3], args[4]
  local r, raw = getrec(p, hex)
  if not r then return {'FREE'} end
  if mode ~= 'force' and (r[1] ~= owner or r[5] ~= uid) then return {'STALE', raw} end
  drop(p, hex, r)
  if redis.call('SISMEMBER', p .. 'sres', hex) == 0 then redis.call('SADD', p .. 'rec', hex) end
  return {'OK', raw}
end

-- fip_record: rebuild path, write a record seen in Kubernetes (allowed while allocation is refused)
-- KEYS[1] meta; ARGV hex, record JSON, def version the caller validated the IP against
-- reply {"OK", record} | {"UNKNOWN"} | {"STALEDEF"} | {"TAKEN", hex, record}
--       | {"UIDELSE", hex, record}
local function record(keys, args)
  local p = prefix(keys[1])
  local hex, new, ver = args[1], cjson.decode(args[2]), args[3]
  local cur = redis.call('HGET', keys[1], 'ver')
  if not cur then return {'UNKNOWN'} end
  if cur ~= ver then return {'STALEDEF'} end
  local r, raw = getrec(p, hex)
  if r and (r[1] ~= new[1] or r[5] ~= new[5]) then return {'TAKEN', hex, raw} end
  if new[5] ~= '' then
    local other = redis.call('HGET', p .. 'uid', new[5])
    if other and other ~= hex then return {'UIDELSE', other, redis.call('HGET', p .. 'ip', other)} end
  end
  if r then drop(p, hex, r) end
  redis.call('SREM', p .. 'rec', hex)
  put(p, hex, new)
  return {'OK', cjson.encode(new)}
end

-- fip_put_subnet: create or change a subnet definition (the caller checked no held IP is dropped)
-- KEYS[1] meta; ARGV def JSON, def version, total, intervals "hex:len,hex:len,...",
--      subnet-reserved "hex,hex,...", gen for a new subnet, "1" if the subnet is known to have
--      existed (its state was lost: stays refused), expected seq ("" = must be new)
-- reply {"OK"} | {"SAME"} | {"SEQ"}
local function put_subnet(keys, args)
  local p = prefix(keys[1])
  local def, ver, total, ivs, sres, gen, known, seq = args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8]
  local m = redis.call('HMGET', keys[1], 'ver', 'seq')
  if m[1] then
    if m[1] == ver then return {'SAME'} end
    if m[2] ~= seq then return {'SEQ'} end
  else
    if seq ~= '' then return {'SEQ'} end
    if known == '1' then gen = '' end
    redis.call('HSET', keys[1], 'gen', gen, 'alloc', 0, 'resv', 0, 'seq', 0, 'rid', run_id())
  end
  redis.call('DEL', p .. 'iv', p .. 'rec', p .. 'sres')
  local n = 0
  for iv in string.gmatch(ivs, '[^,]+') do
    redis.call('HSET', p .. 'iv', tostring(n), iv)
    n = n + 1
  end
  for hex in string.gmatch(sres, '[^,]+') do redis.call('SADD', p .. 'sres', hex) end
  redis.call('HSET', keys[1], 'def', def, 'ver', ver, 'total', total, 'niv', n, 'ci', 0, 'co', 0)
  redis.call('HINCRBY', keys[1], 'seq', 1)
  return {'OK'}
end

-- fip_delete_subnet: remove a subnet holding no records
-- KEYS[1] meta; ARGV none; reply {"OK"} | {"INUSE", count}
local function delete_subnet(keys, args)
  local p = prefix(keys[1])
  local n = redis.call('HLEN', p .. 'ip')
  if n > 0 then return {'INUSE', tostring(n)} end
  redis.call('DEL', keys[1], p .. 'iv', p .. 'rec', p .. 'sres', p .. 'pool', p .. 'pused', p .. 'uid')
  return {'OK'}
end

-- fip_set_gen: allow ("<gen>", on this server: the state is vouched for here) or refuse ("")
-- allocation in the subnet (rebuild bracket)
-- KEYS[1] meta; ARGV gen; reply {"OK"} | {"UNKNOWN"}
local function set_gen(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then return {'UNKNOWN'} end
  redis.call('HSET', keys[1], 'gen', args[1])
  if args[1] ~= '' then redis.call('HSET', keys[1], 'rid', run_id()) end
  return {'OK'}
end

-- fip_state: may the subnet allocate, as allocate would judge it
-- KEYS[1] meta; reply {"OK"} | {"UNKNOWN"} | {"LOST"} | {"NEWSERVER"}
local function state(keys, args)
  local m = redis.call('HMGET', keys[1], 'gen', 'ver', 'rid')
  if not m[2] then return {'UNKNOWN'} end
  if not m[1] or m[1] == '' then return {'LOST'} end
  if m[3] and m[3] ~= run_id() then return {'NEWSERVER'} end
  return {'OK'}
end

-- fip_put_pool: define (size > -1) or remove (size "-1") a pool of the subnet
-- KEYS[1] meta; ARGV pool name, size, "ns1,ns2"; reply {"OK"} | {"UNKNOWN"}
local function put_pool(keys, args)
  local p = prefix(keys[1])
  if redis.call('EXISTS', keys[1]) == 0 then return {'UNKNOWN'} end
  if args[2] == '-1' then
    redis.call('HDEL', p .. 'pool', args[1])
  else
    redis.call('HSET', p .. 'pool', args[1], args[2] .. '|' .. args[3])
  end
  return {'OK'}
end

-- fip_version: the loaded library's version; KEYS none; ARGV none; reply string
local function version(keys, args)
  return VERSION
end

redis.register_function('fip_allocate', allocate)
redis.register_function('fip_bind', bind)
redis.register_function('fip_reserve', reserve)
redis.register_function('fip_release', release)
redis.register_function('fip_record', record)
redis.register_function('fip_put_subnet', put_subnet)
redis.register_function('fip_delete_subnet', delete_subnet)
redis.register_function('fip_set_gen', set_gen)
redis.register_function('fip_put_pool', put_pool)
redis.register_function{function_name = 'fip_version', callback = version, flags = {'no-writes'}}
redis.register_function{function_name = 'fip_state', callback = state, flags = {'no-writes'}}
