"""Teams: members and roles, invitations, the team's review and sharing policy."""
