{{/* Names and labels. */}}
{{- define "opsdesk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opsdesk.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: (dict "root" $ "component" "portal"). Kept short enough
     for StatefulSet pod names plus their ordinal. */}}
{{- define "opsdesk.componentName" -}}
{{- printf "%s-%s" (include "opsdesk.fullname" .root) .component | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "opsdesk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opsdesk.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "opsdesk.labels" -}}
{{ include "opsdesk.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: opsdesk
{{- end -}}

{{/* Opsdesk's own pods (one image, one trust level): the NetworkPolicy lets these reach
     vLLM, Qdrant, Redis and PostgreSQL. */}}
{{- define "opsdesk.clientLabel" -}}
opsdesk.io/client: "true"
{{- end -}}

{{- define "opsdesk.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "opsdesk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "opsdesk.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* In-cluster addresses. */}}
{{- define "opsdesk.svcDomain" -}}
{{- printf "%s.svc.%s" .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "opsdesk.vllm.name" -}}
{{- include "opsdesk.componentName" (dict "root" .root "component" (printf "vllm-%s" .tier)) -}}
{{- end -}}

{{- define "opsdesk.qdrantUrl" -}}
{{- if .Values.qdrant.enabled -}}
{{- printf "http://%s:6333" (include "opsdesk.componentName" (dict "root" . "component" "qdrant")) -}}
{{- else -}}
{{- .Values.external.qdrant.url -}}
{{- end -}}
{{- end -}}

{{- define "opsdesk.qdrantApiKey" -}}
{{- if or (and .Values.qdrant.enabled .Values.qdrant.apiKey.enabled) (and (not .Values.qdrant.enabled) .Values.external.qdrant.apiKey) -}}
true
{{- end -}}
{{- end -}}

{{/* LLM_BACKENDS: one entry per vLLM replica, addressed by its stable pod DNS name, then
     config.llm.extraBackends. No `enabled` key, so a replica an admin disabled in the
     console stays disabled across restarts. With vllm.apiKey the key is a $(VAR) reference
     that Kubernetes expands from a Secret when the container starts. */}}
{{- define "opsdesk.llmBackends" -}}
{{- $root := . -}}
{{- $backends := list -}}
{{- if .Values.vllm.enabled -}}
{{- range $tierName := list "fast" "heavy" -}}
{{- $tier := index $root.Values.vllm.tiers $tierName -}}
{{- if and $tier $tier.enabled -}}
{{- $sts := include "opsdesk.vllm.name" (dict "root" $root "tier" $tierName) -}}
{{- range $i := until (int $tier.replicas) -}}
{{- $url := printf "http://%s-%d.%s.%s:%d/v1" $sts $i $sts (include "opsdesk.svcDomain" $root) (int $root.Values.vllm.port) -}}
{{- $entry := dict "name" (printf "%s-%d" $tierName $i) "url" $url "model" $tier.servedModelName "tier" $tierName "base_model" (eq (toString $tier.baseModel) "true") "development" (eq (toString $tier.development) "true") -}}
{{- if $root.Values.vllm.apiKey.enabled -}}
{{- $_ := set $entry "api_key" "$(OPSDESK_VLLM_API_KEY)" -}}
{{- end -}}
{{- $backends = append $backends $entry -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.config.llm.extraBackends -}}
{{- $backends = append $backends . -}}
{{- end -}}
{{- toJson $backends -}}
{{- end -}}

{{/* CAPACITY_TIER_REPLICAS and CAPACITY_PLANNED, from the tiers' values. */}}
{{- define "opsdesk.capacityTierReplicas" -}}
{{- $out := dict -}}
{{- if .Values.vllm.enabled -}}
{{- range $name, $tier := .Values.vllm.tiers -}}
{{- if $tier.enabled -}}
{{- $_ := set $out $name (int $tier.requiredReplicas) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "opsdesk.capacityPlanned" -}}
{{- $out := dict -}}
{{- if .Values.vllm.enabled -}}
{{- range $name, $tier := .Values.vllm.tiers -}}
{{- if and $tier.enabled $tier.planned -}}
{{- $_ := set $out $name (merge (dict "tp" (int $tier.tensorParallelSize)) $tier.planned) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Environment of every Opsdesk container besides the ConfigMap: values that come from the
     Secret, or that Kubernetes must expand at start ($(POD_IP), passwords inside URLs). */}}
{{- define "opsdesk.appEnv" -}}
{{- $keys := .Values.secrets.keys -}}
{{- $dir := .Values.secrets.mountPath -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: ALLOWED_HOSTS
  value: {{ printf "%s,localhost,$(POD_IP)" (join "," .Values.config.allowedHosts) | trimPrefix "," | quote }}
- name: SECRET_KEY_FILE
  value: {{ printf "%s/%s" $dir $keys.secretKey | quote }}
{{- if $keys.knowledgeSecretKey }}
- name: KNOWLEDGE_SECRET_KEY_FILE
  value: {{ printf "%s/%s" $dir $keys.knowledgeSecretKey | quote }}
{{- end }}
{{- if $keys.llmSecretKey }}
- name: LLM_SECRET_KEY_FILE
  value: {{ printf "%s/%s" $dir $keys.llmSecretKey | quote }}
{{- end }}
{{- if $keys.alertSecretKey }}
- name: ALERT_SECRET_KEY_FILE
  value: {{ printf "%s/%s" $dir $keys.alertSecretKey | quote }}
{{- end }}
{{- if and .Values.ldap.enabled .Values.ldap.bindDn }}
- name: LDAP_BIND_PASSWORD_FILE
  value: {{ printf "%s/%s" $dir $keys.ldapBindPassword | quote }}
{{- end }}
{{- if .Values.oidc.enabled }}
- name: OIDC_CLIENT_SECRET_FILE
  value: {{ printf "%s/%s" $dir $keys.oidcClientSecret | quote }}
{{- end }}
{{- $m := .Values.messenger }}
{{- if $m.slack.enabled }}
- name: SLACK_SIGNING_SECRET_FILE
  value: {{ printf "%s/%s" $dir $keys.slackSigningSecret | quote }}
- name: SLACK_BOT_TOKEN_FILE
  value: {{ printf "%s/%s" $dir $keys.slackBotToken | quote }}
{{- end }}
{{- if $m.mattermost.enabled }}
- name: MATTERMOST_BOT_TOKEN_FILE
  value: {{ printf "%s/%s" $dir $keys.mattermostBotToken | quote }}
{{- if $m.mattermost.slashCommand }}
- name: MATTERMOST_COMMAND_TOKEN_FILE
  value: {{ printf "%s/%s" $dir $keys.mattermostCommandToken | quote }}
{{- end }}
{{- if $m.mattermost.outgoingWebhook }}
- name: MATTERMOST_WEBHOOK_TOKEN_FILE
  value: {{ printf "%s/%s" $dir $keys.mattermostWebhookToken | quote }}
{{- end }}
{{- end }}
{{- if include "opsdesk.qdrantApiKey" . }}
- name: QDRANT_API_KEY_FILE
  value: {{ printf "%s/%s" $dir $keys.qdrantApiKey | quote }}
{{- end }}
{{- if $keys.metricsToken }}
- name: METRICS_TOKEN_FILE
  value: {{ printf "%s/%s" $dir $keys.metricsToken | quote }}
{{- end }}
{{- if .Values.config.scenarios.opensearchUsername }}
- name: OPENSEARCH_PASSWORD_FILE
  value: {{ printf "%s/%s" $dir $keys.opensearchPassword | quote }}
{{- end }}
{{- if .Values.postgresql.enabled }}
- name: OPSDESK_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.existingSecret }}
      key: {{ $keys.postgresPassword }}
- name: DATABASE_URL
  value: {{ printf "postgres://%s:$(OPSDESK_DB_PASSWORD)@%s:5432/%s" .Values.postgresql.username (include "opsdesk.componentName" (dict "root" . "component" "postgresql")) .Values.postgresql.database | quote }}
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.external.postgresql.existingSecret }}
      key: {{ .Values.external.postgresql.urlKey }}
{{- end }}
{{- if .Values.redis.enabled }}
{{- $redisHost := include "opsdesk.componentName" (dict "root" . "component" "redis") }}
{{- if .Values.redis.auth.enabled }}
- name: OPSDESK_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.existingSecret }}
      key: {{ $keys.redisPassword }}
- name: REDIS_URL
  value: {{ printf "redis://:$(OPSDESK_REDIS_PASSWORD)@%s:6379/0" $redisHost | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s:6379/0" $redisHost | quote }}
{{- end }}
{{- else if .Values.external.redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.external.redis.existingSecret }}
      key: {{ .Values.external.redis.urlKey }}
{{- else }}
- name: REDIS_URL
  value: {{ .Values.external.redis.url | quote }}
{{- end }}
{{- if .Values.vllm.apiKey.enabled }}
- name: OPSDESK_VLLM_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.existingSecret }}
      key: {{ $keys.vllmApiKey }}
- name: LLM_BACKENDS
  value: {{ include "opsdesk.llmBackends" . | quote }}
{{- end }}
{{- end -}}

{{/* Secret files, shared state and (optionally) the models volume, for every Opsdesk pod. */}}
{{- define "opsdesk.appVolumes" -}}
{{- $keys := .Values.secrets.keys -}}
- name: secrets
  secret:
    secretName: {{ .Values.secrets.existingSecret }}
    defaultMode: 0440
    items:
      - {key: {{ $keys.secretKey }}, path: {{ $keys.secretKey }}}
      {{- if $keys.knowledgeSecretKey }}
      - {key: {{ $keys.knowledgeSecretKey }}, path: {{ $keys.knowledgeSecretKey }}}
      {{- end }}
      {{- if $keys.llmSecretKey }}
      - {key: {{ $keys.llmSecretKey }}, path: {{ $keys.llmSecretKey }}}
      {{- end }}
      {{- if $keys.alertSecretKey }}
      - {key: {{ $keys.alertSecretKey }}, path: {{ $keys.alertSecretKey }}}
      {{- end }}
      {{- if and .Values.ldap.enabled .Values.ldap.bindDn }}
      - {key: {{ $keys.ldapBindPassword }}, path: {{ $keys.ldapBindPassword }}}
      {{- end }}
      {{- if .Values.oidc.enabled }}
      - {key: {{ $keys.oidcClientSecret }}, path: {{ $keys.oidcClientSecret }}}
      {{- end }}
      {{- if .Values.messenger.slack.enabled }}
      - {key: {{ $keys.slackSigningSecret }}, path: {{ $keys.slackSigningSecret }}}
      - {key: {{ $keys.slackBotToken }}, path: {{ $keys.slackBotToken }}}
      {{- end }}
      {{- if .Values.messenger.mattermost.enabled }}
      - {key: {{ $keys.mattermostBotToken }}, path: {{ $keys.mattermostBotToken }}}
      {{- if .Values.messenger.mattermost.slashCommand }}
      - {key: {{ $keys.mattermostCommandToken }}, path: {{ $keys.mattermostCommandToken }}}
      {{- end }}
      {{- if .Values.messenger.mattermost.outgoingWebhook }}
      - {key: {{ $keys.mattermostWebhookToken }}, path: {{ $keys.mattermostWebhookToken }}}
      {{- end }}
      {{- end }}
      {{- if include "opsdesk.qdrantApiKey" . }}
      - {key: {{ $keys.qdrantApiKey }}, path: {{ $keys.qdrantApiKey }}}
      {{- end }}
      {{- if $keys.metricsToken }}
      - {key: {{ $keys.metricsToken }}, path: {{ $keys.metricsToken }}}
      {{- end }}
      {{- if .Values.config.scenarios.opensearchUsername }}
      - {key: {{ $keys.opensearchPassword }}, path: {{ $keys.opensearchPassword }}}
      {{- end }}
- name: var
  {{- if .Values.var.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (include "opsdesk.componentName" (dict "root" . "component" "var")) .Values.var.persistence.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {}
{{- if .Values.models.mountInApp }}
{{ include "opsdesk.modelsVolume" . }}
{{- end }}
{{- end -}}

{{- define "opsdesk.appVolumeMounts" -}}
- {name: secrets, mountPath: {{ .Values.secrets.mountPath }}, readOnly: true}
- {name: var, mountPath: {{ .Values.var.mountPath }}}
- {name: tmp, mountPath: /tmp}
{{- if .Values.models.mountInApp }}
- {name: models, mountPath: {{ .Values.models.mountPath }}, readOnly: true}
{{- end }}
{{- end -}}

{{- define "opsdesk.modelsVolume" -}}
- name: models
  {{- if eq .Values.models.type "hostPath" }}
  hostPath:
    path: {{ .Values.models.hostPath }}
    type: Directory
  {{- else }}
  persistentVolumeClaim:
    claimName: {{ .Values.models.existingClaim }}
    readOnly: true
  {{- end }}
{{- end -}}

{{/* The init container that holds a pod until the schema matches its code. */}}
{{- define "opsdesk.waitForMigrations" -}}
- name: wait-for-migrations
  image: {{ include "opsdesk.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - sh
    - -c
    - |
      until python manage.py migrate --check --noinput >/dev/null 2>&1; do
        echo "waiting for the migration Job of this release to finish"; sleep 5
      done
  envFrom:
    - configMapRef:
        name: {{ include "opsdesk.componentName" (dict "root" . "component" "env") }}
  env:
    {{- include "opsdesk.appEnv" . | nindent 4 }}
  volumeMounts:
    {{- include "opsdesk.appVolumeMounts" . | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.migrations.resources | nindent 4 }}
{{- end -}}

{{/* Soft or hard spreading of a component's replicas over nodes. */}}
{{- define "opsdesk.antiAffinity" -}}
podAntiAffinity:
  {{- if eq .mode "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "opsdesk.selectorLabels" . | nindent 10 }}
  {{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "opsdesk.selectorLabels" . | nindent 12 }}
  {{- end }}
{{- end -}}
