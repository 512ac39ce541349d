-- Argo CD resource health check for GlusterCluster (storage.glusterops.dev), the body of a Lua
-- function: Argo CD runs it with the live object in `obj` and reads back `hs.status`, `hs.message`.
-- Rules (the kstatus conventions the operator follows, docs/design.md "Status"):
--   * no status yet, or status.observedGeneration behind metadata.generation -> Progressing
--     (the operator has not looked at the latest spec; its conditions describe an older one);
--   * Stalled=True  -> Degraded (cannot go on without a change to the spec, a Secret or the cloud);
--   * Degraded=True -> Degraded (a brick offline, a peer lost, heal pending, ...);
--   * Ready=True    -> Healthy;
--   * otherwise (Reconciling=True, or no verdict yet) -> Progressing.
local hs = {}

local function condition(conditions, wanted)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function says(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local conditions = obj.status.conditions
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = "Stalled: " .. says(stalled)
  return hs
end

local degraded = condition(conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = "Degraded: " .. says(degraded)
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = says(ready)
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = "Reconciling: " .. says(reconciling)
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the cluster to become Ready"
return hs
