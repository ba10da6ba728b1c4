"""dealroom: deal folders of Markdown and YAML become isolated deal-room sites."""
