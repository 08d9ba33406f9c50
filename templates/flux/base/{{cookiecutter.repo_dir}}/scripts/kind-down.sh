{%- import "_shared/workshop.sh.j2" as workshop -%}
{{ workshop.kind_down(cookiecutter._platform) }}
