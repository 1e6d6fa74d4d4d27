{{/* Values the chart refuses, with the reason, before anything reaches the cluster. */}}
{{- define "opsdesk.validate" -}}
{{- $v := .Values -}}
{{- if not $v.secrets.existingSecret -}}
{{- fail "secrets.existingSecret must name a Secret created beforehand (docs/operations.md, Secrets)" -}}
{{- end -}}
{{- if not $v.secrets.keys.secretKey -}}
{{- fail "secrets.keys.secretKey is required: SECRET_KEY signs sessions and must stay stable" -}}
{{- end -}}
{{- if and (not $v.postgresql.enabled) (not $v.external.postgresql.existingSecret) -}}
{{- fail "postgresql.enabled is false: set external.postgresql.existingSecret (a Secret holding DATABASE_URL)" -}}
{{- end -}}
{{- if and (not $v.redis.enabled) (not $v.external.redis.url) (not $v.external.redis.existingSecret) -}}
{{- fail "redis.enabled is false: set external.redis.url or external.redis.existingSecret" -}}
{{- end -}}
{{- if and (not $v.qdrant.enabled) (not $v.external.qdrant.url) -}}
{{- fail "qdrant.enabled is false: set external.qdrant.url (local mode serves one process only)" -}}
{{- end -}}
{{- if not (has $v.models.type (list "pvc" "hostPath")) -}}
{{- fail (printf "models.type must be pvc or hostPath, got %q" $v.models.type) -}}
{{- end -}}
{{- if $v.ldap.enabled -}}
{{- if or (not $v.ldap.serverUri) (not $v.ldap.userSearchBase) -}}
{{- fail "ldap.enabled: ldap.serverUri and ldap.userSearchBase are required" -}}
{{- end -}}
{{- if not (has $v.ldap.groupType (list "groupOfNames" "groupOfUniqueNames" "posixGroup" "activeDirectory")) -}}
{{- fail (printf "ldap.groupType must be groupOfNames, groupOfUniqueNames, posixGroup or activeDirectory, got %q" $v.ldap.groupType) -}}
{{- end -}}
{{- end -}}
{{- if and (not $v.config.trustedProxies) (or $v.haproxy.enabled $v.ingress.enabled $v.config.behindTlsProxy) -}}
{{- fail "config.trustedProxies must list the network of HAProxy and the Ingress controller pods: the portal believes X-Forwarded-For and X-Forwarded-Proto from nobody else (sign-in lockout, audit log, https)" -}}
{{- end -}}
{{- if lt (int $v.portal.replicas) 1 -}}
{{- fail "portal.replicas must be at least 1" -}}
{{- end -}}
{{- if $v.qdrant.enabled -}}
{{- if gt (int $v.qdrant.replicationFactor) (int $v.qdrant.replicas) -}}
{{- fail (printf "qdrant.replicationFactor (%d) cannot exceed qdrant.replicas (%d)" (int $v.qdrant.replicationFactor) (int $v.qdrant.replicas)) -}}
{{- end -}}
{{- if eq (int $v.qdrant.replicas) 2 -}}
{{- fail "qdrant.replicas: 2 nodes cannot lose one (Raft needs a majority); use 1 or 3" -}}
{{- end -}}
{{- end -}}
{{- range $i, $b := $v.config.llm.extraBackends -}}
{{- if hasKey $b "api_key" -}}
{{- fail (printf "config.llm.extraBackends[%d]: no api_key here (it would be stored in a ConfigMap); enter it in the admin console" $i) -}}
{{- end -}}
{{- if not (and $b.name $b.url $b.model $b.tier) -}}
{{- fail (printf "config.llm.extraBackends[%d] needs name, url, model and tier" $i) -}}
{{- end -}}
{{- end -}}
{{- if $v.vllm.enabled -}}
{{- if and $v.vllm.apiKey.enabled (not $v.secrets.keys.vllmApiKey) -}}
{{- fail "vllm.apiKey.enabled: secrets.keys.vllmApiKey must name the Secret key" -}}
{{- end -}}
{{- range $name, $t := $v.vllm.tiers -}}
{{- if not (has $name (list "fast" "heavy")) -}}
{{- fail (printf "vllm.tiers.%s: the portal routes two tiers only, fast and heavy" $name) -}}
{{- end -}}
{{- if $t.enabled -}}
{{- $replicas := int $t.replicas -}}
{{- $tp := int $t.tensorParallelSize -}}
{{- $need := int $t.requiredReplicas -}}
{{- if lt $replicas 1 -}}
{{- fail (printf "vllm.tiers.%s.replicas must be at least 1 (or set enabled: false)" $name) -}}
{{- end -}}
{{- if lt $tp 1 -}}
{{- fail (printf "vllm.tiers.%s.tensorParallelSize must be at least 1" $name) -}}
{{- end -}}
{{- if not $t.servedModelName -}}
{{- fail (printf "vllm.tiers.%s.servedModelName is required" $name) -}}
{{- end -}}
{{- if or (le (float64 $t.gpuMemoryUtilization) 0.0) (gt (float64 $t.gpuMemoryUtilization) 1.0) -}}
{{- fail (printf "vllm.tiers.%s.gpuMemoryUtilization must be in (0, 1]" $name) -}}
{{- end -}}
{{- if gt $need $replicas -}}
{{- fail (printf "vllm.tiers.%s: requiredReplicas (%d) exceeds replicas (%d)" $name $need $replicas) -}}
{{- end -}}
{{- $gpus := int $t.gpusPerNode -}}
{{- if and (gt $gpus 0) (gt $tp $gpus) -}}
{{- fail (printf "vllm.tiers.%s: tensorParallelSize %d needs %d GPUs on one node, nodes have %d" $name $tp $tp $gpus) -}}
{{- end -}}
{{- $nodes := int $t.nodes -}}
{{- if gt $nodes 0 -}}
{{- /* maxSkew 1 puts at most ceil(replicas / nodes) replicas on one node. */ -}}
{{- $perNode := div (add $replicas (sub $nodes 1)) $nodes -}}
{{- if and (gt $gpus 0) (gt (mul $perNode $tp) $gpus) -}}
{{- fail (printf "vllm.tiers.%s: %d replicas over %d nodes put %d on one node, %d GPUs; nodes have %d" $name $replicas $nodes $perNode (mul $perNode $tp) $gpus) -}}
{{- end -}}
{{- $left := sub $replicas $perNode -}}
{{- if lt $left $need -}}
{{- fail (printf "vllm.tiers.%s is not N+1: losing one of %d nodes takes %d of %d replicas, leaving %d < requiredReplicas %d" $name $nodes $perNode $replicas $left $need) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
