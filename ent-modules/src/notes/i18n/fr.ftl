notes-title = Notes
notes-average = Moyenne
notes-general-average = Moyenne générale
notes-class-average = Moyenne de la classe
notes-min = Note la plus basse
notes-max = Note la plus haute
notes-rank = Rang
notes-coefficient = Coefficient
notes-scale = Noté sur { $scale }
notes-optional = Facultative
notes-bonus = Bonus
notes-not-counted = Non comptée
notes-status-Abs = Absent
notes-status-Disp = Dispensé
notes-status-NN = Non noté
notes-status-Inap = Inapte
notes-status-NR = Non rendu
notes-status-AbsZ = Absent (compte 0)
notes-status-NRZ = Non rendu (compte 0)
notes-published = { $count ->
    [one] { $count } nouvelle note
   *[other] { $count } nouvelles notes
}
notes-error-closed-period = La période est close : elle ne peut plus être modifiée.
notes-error-above-scale = La note dépasse le barème ({ $scale }).
notes-error-not-member = Cet élève n'est pas dans la classe ou le groupe.
