{{/* Chart name. */}}
{{- define "scimitar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name when it contains the chart name. */}}
{{- define "scimitar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "scimitar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scimitar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scimitar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "scimitar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "scimitar.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The public SCIM base URL: operator.publicUrl, else from the Ingress, else empty. */}}
{{- define "scimitar.publicUrl" -}}
{{- if .Values.operator.publicUrl }}
{{- .Values.operator.publicUrl }}
{{- else if .Values.ingress.enabled }}
{{- printf "%s://%s/scim/v2" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host }}
{{- end }}
{{- end }}

{{/* The operator's ServiceAccount: serviceAccount.name, else the full name. */}}
{{- define "scimitar.serviceAccountName" -}}
{{- default (include "scimitar.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* The console's base URL, as `scimitar run` computes it (src/console/mod.rs
base_url): console.url without a trailing slash, else the origin of the
public SCIM URL; empty when neither is known. */}}
{{- define "scimitar.consoleUrl" -}}
{{- if .Values.console.url }}
{{- .Values.console.url | trimSuffix "/" }}
{{- else }}
{{- regexFind "^https?://[^/?#]+" (include "scimitar.publicUrl" .) }}
{{- end }}
{{- end }}

{{/* Label matchers selecting this release's scimitar series in PromQL. */}}
{{- define "scimitar.metricsSelector" -}}
{{- .Values.metrics.prometheusRule.selector | default (printf "namespace=%q,job=%q" .Release.Namespace (printf "%s-metrics" (include "scimitar.fullname" .))) }}
{{- end }}
