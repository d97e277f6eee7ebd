{{/* Names, labels and the rendered configuration. */}}

{{- define "alertbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertbridge.fullname" -}}
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

{{- define "alertbridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "alertbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alertbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "alertbridge.labels" -}}
helm.sh/chart: {{ include "alertbridge.chart" . }}
{{ include "alertbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: alertbridge
{{- end -}}

{{/* The daemon's pods: selector labels plus the component. */}}
{{- define "alertbridge.daemonSelectorLabels" -}}
{{ include "alertbridge.selectorLabels" . }}
app.kubernetes.io/component: daemon
{{- end -}}

{{- define "alertbridge.redisFullname" -}}
{{- printf "%s-redis" (include "alertbridge.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{- define "alertbridge.redisSelectorLabels" -}}
{{ include "alertbridge.selectorLabels" . }}
app.kubernetes.io/component: redis
{{- end -}}

{{- define "alertbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "alertbridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "alertbridge.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the chart Redis password: redis.auth.existingSecret, or the one the chart generates. */}}
{{- define "alertbridge.redisSecretName" -}}
{{- .Values.redis.auth.existingSecret | default (include "alertbridge.redisFullname" .) -}}
{{- end -}}

{{/* The key of the password in that Secret. */}}
{{- define "alertbridge.redisSecretKey" -}}
{{- if .Values.redis.auth.existingSecret -}}{{ .Values.redis.auth.existingSecretKey }}{{- else -}}redis-password{{- end -}}
{{- end -}}

{{/*
The generated Secret as it is in the cluster (an empty map under `helm template` and on first install): an upgrade
keeps its password instead of generating another one.
*/}}
{{- define "alertbridge.redisSecretInCluster" -}}
{{- toJson (lookup "v1" "Secret" .Release.Namespace (include "alertbridge.redisFullname" .)) -}}
{{- end -}}

{{/*
True ("true") when alertbridge reads the chart's Redis password from its Secret, mounted at
/etc/alertbridge/redis/password (config.redis.password_file): a file, not an environment variable, and with trailing
newlines removed as the Redis start script does, so a Secret made with `--from-file` works on both sides.
*/}}
{{- define "alertbridge.redisPasswordFile" -}}
{{- if and .Values.redis.enabled .Values.redis.auth.enabled -}}
{{- $redis := get (.Values.config | default dict) "redis" | default dict -}}
{{- if not (or (get $redis "url") (get $redis "password") (get $redis "password_file")) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The configuration file: .Values.config as written, plus the chart's Redis (URL, password) when redis.enabled and
config.redis does not say otherwise. An external Redis (redis.enabled false) is config.redis.url,
config.redis.sentinel or config.redis.cluster, with its secrets as `*_file` keys read from existingSecret's files.
*/}}
{{- define "alertbridge.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $redis := deepCopy (get $config "redis" | default dict) -}}
{{- if and .Values.redis.enabled (get $redis "sentinel") -}}
{{- fail "config.redis.sentinel points alertbridge at an external Sentinel: set redis.enabled to false (the chart's own Redis is a single node)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (get $redis "cluster") -}}
{{- fail "config.redis.cluster points alertbridge at an external Redis Cluster: set redis.enabled to false (the chart's own Redis is a single node)" -}}
{{- end -}}
{{- if .Values.redis.enabled -}}
{{- if not (get $redis "url") -}}
{{- $_ := set $redis "url" (printf "redis://%s:6379/0" (include "alertbridge.redisFullname" .)) -}}
{{- end -}}
{{- if include "alertbridge.redisPasswordFile" . -}}
{{- $_ := set $redis "password_file" "/etc/alertbridge/redis/password" -}}
{{- end -}}
{{- $_ := set $config "redis" $redis -}}
{{- else if not (or (get $redis "url") (get $redis "sentinel") (get $redis "cluster")) -}}
{{- fail "config.redis.url, config.redis.sentinel or config.redis.cluster is required when redis.enabled is false: point it at your Redis (redis://host:6379/0, rediss:// for TLS), its sentinels or its cluster nodes (docs/redis-ha.md)" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* Milliseconds the daemon may spend draining after SIGTERM (config.pipeline.drain_timeout_ms, default 30000). */}}
{{- define "alertbridge.drainTimeoutMs" -}}
{{- $ms := dig "pipeline" "drain_timeout_ms" 30000 (.Values.config | default dict) -}}
{{- if not (kindIs "string" $ms) -}}{{ int64 $ms }}{{- else -}}30000{{- end -}}
{{- end -}}

{{/* preStop sleep + drain + 10 s of margin, unless set; an explicit value too small to drain fails the render. */}}
{{- define "alertbridge.terminationGracePeriodSeconds" -}}
{{- $drain := div (add (include "alertbridge.drainTimeoutMs" . | int64) 999) 1000 -}}
{{- $needed := add (int64 .Values.preStopSleepSeconds) $drain -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $needed 10 -}}
{{- else if le (int64 .Values.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + config.pipeline.drain_timeout_ms (%d s), or the drain is cut short" .Values.terminationGracePeriodSeconds $needed) -}}
{{- else -}}
{{- int64 .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/* The port of config.server.listen must be containerPort: probes, Service and Ingress use containerPort. */}}
{{- define "alertbridge.checkListenPort" -}}
{{- if eq (toString (dig "server" "enabled" true (.Values.config | default dict))) "false" -}}
{{- fail "config.server.enabled must stay true in Kubernetes: the probes use /healthz and /readyz" -}}
{{- end -}}
{{- $listen := dig "server" "listen" "0.0.0.0:8080" (.Values.config | default dict) -}}
{{- if and (kindIs "string" $listen) (not (contains "${" $listen)) -}}
{{- $port := regexFind "[0-9]+$" $listen -}}
{{- if ne $port (toString .Values.containerPort) -}}
{{- fail (printf "config.server.listen (%s) must use containerPort (%v): the probes, the Service and the Ingress use containerPort" $listen .Values.containerPort) -}}
{{- end -}}
{{- end -}}
{{- end -}}
