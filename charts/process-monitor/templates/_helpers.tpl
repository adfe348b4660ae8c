{{/* Names, labels and image references shared by every template of the chart. */}}

{{- define "process-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "process-monitor.fullname" -}}
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

{{- define "process-monitor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name + instance only, because a Deployment's selector is immutable. */}}
{{- define "process-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "process-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "process-monitor.labels" -}}
helm.sh/chart: {{ include "process-monitor.chart" . }}
{{ include "process-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: process-monitor
{{- end }}

{{- define "process-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "process-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository[:tag][@digest]; the tag defaults to the chart's appVersion. Argument: dict "image" . "root" $ */}}
{{- define "process-monitor.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- $ref := printf "%s:%s" .image.repository $tag }}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
Command-line arguments of process-monitor-operator (operator/process_monitor_operator/main.py defines them).
No namespace flag watches all namespaces; no --peering runs standalone.
*/}}
{{- define "process-monitor.operatorArgs" -}}
{{- range .Values.watchNamespaces }}
- --namespace={{ . }}
{{- end }}
{{- if .Values.peering.enabled }}
- --peering={{ .Values.peering.name }}
{{- end }}
- --liveness-address=0.0.0.0:{{ .Values.operator.probePort }}
- --metrics-address=0.0.0.0:{{ .Values.operator.metricsPort }}
- --agent-image={{ include "process-monitor.imageRef" (dict "image" .Values.agentImage "root" $) }}
{{- if eq .Values.operator.logLevel "verbose" }}
- --verbose
{{- else if eq .Values.operator.logLevel "debug" }}
- --debug
{{- end }}
{{- range .Values.operator.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
